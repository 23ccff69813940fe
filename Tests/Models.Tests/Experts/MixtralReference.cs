using System.Globalization;
using Tessera.Checkpoints;

namespace Tessera.Models.Tests.Experts;

/// <summary>Sizes of a Mixtral-architecture test model.</summary>
internal sealed record MixtralShape(int Dim, int Intermediate, int Layers, int Heads, int KvHeads, int Vocab, int Experts, int ExpertsPerToken, int Context = 64)
{
    public int HeadDim => Dim / Heads;

    public string ConfigJson() => string.Create(CultureInfo.InvariantCulture, $$"""
        {
          "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_act": "silu",
          "hidden_size": {{Dim}}, "intermediate_size": {{Intermediate}}, "num_hidden_layers": {{Layers}},
          "num_attention_heads": {{Heads}}, "num_key_value_heads": {{KvHeads}}, "vocab_size": {{Vocab}},
          "max_position_embeddings": {{Context}}, "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": false,
          "num_local_experts": {{Experts}}, "num_experts_per_tok": {{ExpertsPerToken}}, "sliding_window": null
        }
        """);
}

/// <summary>
/// A plain fp64 Mixtral forward, written from Hugging Face's modeling_mixtral.py with nothing shared with the engine:
/// loops over tensors read from the checkpoint by name. Slow; for tiny models. Checked against the fixture's
/// independent reference first, then used as the reference for shapes the fixture does not cover.
/// </summary>
internal sealed class MixtralReference
{
    private readonly Dictionary<string, double[]> _tensors = new();
    private readonly MixtralShape _shape;

    public MixtralReference(string directory, MixtralShape shape)
    {
        _shape = shape;
        using var file = SafetensorsFile.Open(Path.Combine(directory, "model.safetensors"));
        foreach (var name in file.Entries.Keys)
            _tensors[name] = file.ReadFloats(name).Select(v => (double)v).ToArray();
    }

    private double[] W(string name) => _tensors[name];

    /// <summary>(T, V) logits of a prompt, and [layer, expert] = how many of its tokens went to each expert.</summary>
    public (double[] Logits, int[,] ExpertCounts) Forward(int[] tokens)
    {
        var s = _shape;
        int t = tokens.Length, d = s.Dim, hd = s.HeadDim;
        var counts = new int[s.Layers, s.Experts];
        var x = new double[t][];
        for (int i = 0; i < t; i++) x[i] = W("model.embed_tokens.weight").AsSpan(tokens[i] * d, d).ToArray();

        for (int layer = 0; layer < s.Layers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var h = x.Select(r => RmsNorm(r, W(p + "input_layernorm.weight"))).ToArray();
            var q = h.Select(r => Linear(r, W(p + "self_attn.q_proj.weight"), s.Heads * hd)).ToArray();
            var k = h.Select(r => Linear(r, W(p + "self_attn.k_proj.weight"), s.KvHeads * hd)).ToArray();
            var v = h.Select(r => Linear(r, W(p + "self_attn.v_proj.weight"), s.KvHeads * hd)).ToArray();
            for (int i = 0; i < t; i++)
            {
                Rope(q[i], s.Heads, hd, i);
                Rope(k[i], s.KvHeads, hd, i);
            }
            for (int i = 0; i < t; i++)
            {
                var attention = new double[s.Heads * hd];
                for (int head = 0; head < s.Heads; head++)
                {
                    int kv = head / (s.Heads / s.KvHeads);
                    var scores = new double[i + 1];
                    for (int j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (int c = 0; c < hd; c++) dot += q[i][head * hd + c] * k[j][kv * hd + c];
                        scores[j] = dot / Math.Sqrt(hd);
                    }
                    var weights = Softmax(scores);
                    for (int j = 0; j <= i; j++)
                        for (int c = 0; c < hd; c++) attention[head * hd + c] += weights[j] * v[j][kv * hd + c];
                }
                var o = Linear(attention, W(p + "self_attn.o_proj.weight"), d);
                for (int c = 0; c < d; c++) x[i][c] += o[c];
            }

            for (int i = 0; i < t; i++)
            {
                var m = RmsNorm(x[i], W(p + "post_attention_layernorm.weight"));
                var probabilities = Softmax(Linear(m, W(p + "block_sparse_moe.gate.weight"), s.Experts));
                // Top-k by probability, ties to the lower index; weights renormalised over the chosen.
                var chosen = Enumerable.Range(0, s.Experts).OrderByDescending(e => probabilities[e]).ThenBy(e => e).Take(s.ExpertsPerToken).Order().ToArray();
                double sum = chosen.Sum(e => probabilities[e]);
                foreach (int e in chosen)
                {
                    counts[layer, e]++;
                    string ep = p + $"block_sparse_moe.experts.{e}.";
                    var gate = Linear(m, W(ep + "w1.weight"), s.Intermediate);
                    var up = Linear(m, W(ep + "w3.weight"), s.Intermediate);
                    var inner = gate.Select((g, c) => g / (1 + Math.Exp(-g)) * up[c]).ToArray();
                    var y = Linear(inner, W(ep + "w2.weight"), d);
                    for (int c = 0; c < d; c++) x[i][c] += probabilities[e] / sum * y[c];
                }
            }
        }

        var logits = new double[t * s.Vocab];
        for (int i = 0; i < t; i++)
            Linear(RmsNorm(x[i], W("model.norm.weight")), W("lm_head.weight"), s.Vocab).CopyTo(logits, i * s.Vocab);
        return (logits, counts);
    }

    private static double[] Linear(double[] x, double[] w, int outFeatures)
    {
        var y = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
            for (int c = 0; c < x.Length; c++) y[o] += w[o * x.Length + c] * x[c];
        return y;
    }

    private static double[] RmsNorm(double[] x, double[] weight)
    {
        double scale = 1 / Math.Sqrt(x.Sum(v => v * v) / x.Length + 1e-5);
        return x.Select((v, c) => v * scale * weight[c]).ToArray();
    }

    private static void Rope(double[] x, int heads, int headDim, int position)
    {
        int half = headDim / 2;
        for (int head = 0; head < heads; head++)
            for (int j = 0; j < half; j++)
            {
                double angle = position * Math.Pow(10000.0, -2.0 * j / headDim);
                double a = x[head * headDim + j], b = x[head * headDim + j + half];
                x[head * headDim + j] = a * Math.Cos(angle) - b * Math.Sin(angle);
                x[head * headDim + j + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>Writes a random-weight checkpoint of <paramref name="shape"/> (HF Mixtral names, F32) into <paramref name="directory"/>.</summary>
    public static void WriteRandomCheckpoint(string directory, MixtralShape shape, int seed)
    {
        System.IO.Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), shape.ConfigJson());
        var random = new Random(seed);
        var tensors = new List<SafetensorsWriter.Tensor>();
        void Add(string name, double scale, params long[] dims)
        {
            long n = dims.Aggregate(1L, (a, b) => a * b);
            tensors.Add(new SafetensorsWriter.Tensor(name, dims, Floats: Enumerable.Range(0, (int)n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray()));
        }
        void Norm(string name) => tensors.Add(new SafetensorsWriter.Tensor(name, [shape.Dim], Floats: Enumerable.Range(0, shape.Dim).Select(_ => (float)(0.8 + 0.4 * random.NextDouble())).ToArray()));
        int d = shape.Dim, hd = shape.HeadDim;
        double scale = 1 / Math.Sqrt(d);
        Add("model.embed_tokens.weight", 1, shape.Vocab, d);
        for (int layer = 0; layer < shape.Layers; layer++)
        {
            string p = $"model.layers.{layer}.";
            Norm(p + "input_layernorm.weight");
            Add(p + "self_attn.q_proj.weight", scale, shape.Heads * hd, d);
            Add(p + "self_attn.k_proj.weight", scale, shape.KvHeads * hd, d);
            Add(p + "self_attn.v_proj.weight", scale, shape.KvHeads * hd, d);
            Add(p + "self_attn.o_proj.weight", scale, d, shape.Heads * hd);
            Norm(p + "post_attention_layernorm.weight");
            Add(p + "block_sparse_moe.gate.weight", 3 * scale, shape.Experts, d);
            for (int e = 0; e < shape.Experts; e++)
            {
                string ep = p + $"block_sparse_moe.experts.{e}.";
                Add(ep + "w1.weight", scale, shape.Intermediate, d);
                Add(ep + "w3.weight", scale, shape.Intermediate, d);
                Add(ep + "w2.weight", 1 / Math.Sqrt(shape.Intermediate), d, shape.Intermediate);
            }
        }
        Norm("model.norm.weight");
        Add("lm_head.weight", scale, shape.Vocab, d);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), tensors);
    }
}
