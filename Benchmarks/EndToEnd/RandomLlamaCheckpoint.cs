using System.Globalization;
using Tessera.Checkpoints;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// A Llama-shaped checkpoint with seeded random weights, written once to a cache folder: big enough that the
/// forward's cost is the matrix products, as in a real model, without shipping one.
/// </summary>
public static class RandomLlamaCheckpoint
{
    /// <summary>The 24M-parameter Llama of llama2.c's stories15M shape with a 32000 vocabulary: dim 288, 6 layers, 6 heads.</summary>
    public static string Small() => Create("llama-288x6", dim: 288, layers: 6, heads: 6, kvHeads: 6, intermediate: 768, vocab: 32000, context: 1024);

    /// <summary>GPT-2-small-sized Llama (134M parameters): dim 768, 12 layers, 12 heads, vocab 32000.</summary>
    public static string Medium() => Create("llama-768x12", dim: 768, layers: 12, heads: 12, kvHeads: 12, intermediate: 2048, vocab: 32000, context: 1024);

    public static string Create(string name, int dim, int layers, int heads, int kvHeads, int intermediate, int vocab, int context)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tessera-bench", name);
        if (File.Exists(Path.Combine(directory, "model.safetensors"))) return directory;
        Directory.CreateDirectory(directory);
        int headDim = dim / heads;
        File.WriteAllText(Path.Combine(directory, "config.json"), string.Create(CultureInfo.InvariantCulture, $$"""
            { "model_type": "llama", "hidden_size": {{dim}}, "intermediate_size": {{intermediate}}, "num_hidden_layers": {{layers}},
              "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}, "vocab_size": {{vocab}},
              "max_position_embeddings": {{context}}, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false }
            """));

        var random = new Random(20241122);
        var tensors = new List<SafetensorsWriter.Tensor>();
        void Matrix(string tensor, int rows, int cols, float scale) =>
            tensors.Add(new(tensor, [rows, cols], Floats: Fill(rows * cols, random, scale)));
        void Ones(string tensor, int n) => tensors.Add(new(tensor, [n], Floats: Enumerable.Repeat(1f, n).ToArray()));

        Matrix("model.embed_tokens.weight", vocab, dim, 0.1f);
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            Ones(p + "input_layernorm.weight", dim);
            Matrix(p + "self_attn.q_proj.weight", heads * headDim, dim, 0.05f);
            Matrix(p + "self_attn.k_proj.weight", kvHeads * headDim, dim, 0.05f);
            Matrix(p + "self_attn.v_proj.weight", kvHeads * headDim, dim, 0.05f);
            Matrix(p + "self_attn.o_proj.weight", dim, heads * headDim, 0.05f);
            Ones(p + "post_attention_layernorm.weight", dim);
            Matrix(p + "mlp.gate_proj.weight", intermediate, dim, 0.05f);
            Matrix(p + "mlp.up_proj.weight", intermediate, dim, 0.05f);
            Matrix(p + "mlp.down_proj.weight", dim, intermediate, 0.05f);
        }
        Ones("model.norm.weight", dim);
        Matrix("lm_head.weight", vocab, dim, 0.05f);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
    }

    private static float[] Fill(int n, Random random, float scale)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (random.NextSingle() * 2 - 1) * scale;
        return data;
    }
}
