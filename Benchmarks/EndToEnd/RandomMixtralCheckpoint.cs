using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// A Mixtral-shaped checkpoint (Hugging Face MixtralForCausalLM names, F32) with seeded random weights, written once to
/// a cache folder; and its "dense" variant: the same weights with num_experts_per_tok = num_local_experts, so that
/// every token runs every expert (the weights are shared: hard-linked, or copied where links are not possible).
/// </summary>
public static class RandomMixtralCheckpoint
{
    /// <summary>
    /// "mixtral-small": dim 512, 4 layers, 8 heads, 2 KV heads (head_dim 64), vocab 8000, context 1024,
    /// 8 experts of intermediate 1024 each, top-2.
    /// </summary>
    public static string Small() => Create("mixtral-small", dim: 512, layers: 4, heads: 8, kvHeads: 2, intermediate: 1024, vocab: 8000, context: 1024, experts: 8, expertsPerToken: 2);

    public static string Create(string name, int dim, int layers, int heads, int kvHeads, int intermediate, int vocab, int context, int experts, int expertsPerToken)
    {
        string directory = Path.Combine(Path.GetTempPath(), "tessera-bench", name);
        if (File.Exists(Path.Combine(directory, "model.safetensors"))) return directory;
        Directory.CreateDirectory(directory);
        int headDim = dim / heads;
        File.WriteAllText(Path.Combine(directory, "config.json"), string.Create(CultureInfo.InvariantCulture, $$"""
            { "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_act": "silu",
              "hidden_size": {{dim}}, "intermediate_size": {{intermediate}}, "num_hidden_layers": {{layers}},
              "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}, "head_dim": {{headDim}}, "vocab_size": {{vocab}},
              "max_position_embeddings": {{context}}, "rms_norm_eps": 1e-5, "rope_theta": 1000000.0, "tie_word_embeddings": false,
              "num_local_experts": {{experts}}, "num_experts_per_tok": {{expertsPerToken}}, "sliding_window": null }
            """));

        var random = new Random(20250107);
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
            // A wider router than the other matrices, so that tokens spread over the experts rather than all picking the same two.
            Matrix(p + "block_sparse_moe.gate.weight", experts, dim, 0.15f);
            for (int e = 0; e < experts; e++)
            {
                string ep = p + $"block_sparse_moe.experts.{e}.";
                Matrix(ep + "w1.weight", intermediate, dim, 0.05f);
                Matrix(ep + "w3.weight", intermediate, dim, 0.05f);
                Matrix(ep + "w2.weight", dim, intermediate, 0.05f);
            }
        }
        Ones("model.norm.weight", dim);
        Matrix("lm_head.weight", vocab, dim, 0.05f);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
        return directory;
    }

    /// <summary>
    /// The dense variant of a mixture-of-experts checkpoint: a folder next to the cached checkpoints whose config.json
    /// is <paramref name="directory"/>'s with num_experts_per_tok set to num_local_experts, and whose other files are
    /// <paramref name="directory"/>'s own (hard links, else copies). Kept while the source's files are unchanged.
    /// </summary>
    public static string DenseVariant(string directory)
    {
        directory = Path.GetFullPath(directory);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!.AsObject();
        int experts = config["num_local_experts"]?.GetValue<int>() ?? throw new InvalidOperationException($"{directory}: config.json has no num_local_experts; not a mixture-of-experts model.");
        config["num_experts_per_tok"] = experts;
        string denseConfig = config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

        string name = Path.GetFileName(directory.TrimEnd(Path.DirectorySeparatorChar)) + "-dense";
        string dense = Path.Combine(Path.GetTempPath(), "tessera-bench", name);
        var files = Directory.GetFiles(directory).Where(f => Path.GetFileName(f) != "config.json").ToArray();
        bool upToDate = File.Exists(Path.Combine(dense, "config.json")) && File.ReadAllText(Path.Combine(dense, "config.json")) == denseConfig &&
                        files.All(f => File.Exists(Path.Combine(dense, Path.GetFileName(f))) &&
                                       new FileInfo(Path.Combine(dense, Path.GetFileName(f))).Length == new FileInfo(f).Length &&
                                       File.GetLastWriteTimeUtc(Path.Combine(dense, Path.GetFileName(f))) >= File.GetLastWriteTimeUtc(f));
        if (upToDate) return dense;

        if (Directory.Exists(dense)) Directory.Delete(dense, recursive: true); // removes links only; the source keeps its files
        Directory.CreateDirectory(dense);
        foreach (var file in files) LinkOrCopy(file, Path.Combine(dense, Path.GetFileName(file)));
        File.WriteAllText(Path.Combine(dense, "config.json"), denseConfig); // last: a folder without it is rebuilt
        return dense;
    }

    private static void LinkOrCopy(string source, string destination)
    {
        if (!OperatingSystem.IsWindows())
        {
            try
            {
                if (link(source, destination) == 0) return;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
            }
        }
        File.Copy(source, destination, overwrite: true);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int link(string oldPath, string newPath);

    private static float[] Fill(int n, Random random, float scale)
    {
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (random.NextSingle() * 2 - 1) * scale;
        return data;
    }
}
