using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;

namespace Tessera.Models.Tests.Families;

/// <summary>
/// A plain fp64 forward of Hugging Face transformers' decoder-only families (llama, mistral, mixtral, qwen2,
/// qwen2_moe, qwen3, qwen3_moe, gemma2, gemma3_text / gemma3, phi3), written from their modeling_*.py files and
/// the fixtures' READMEs with nothing shared with the engines: it reads config.json and the safetensors weights
/// by name and loops over them in doubles, one token at a time through its own key/value lists. Slow, for tiny
/// models; checked against every bundled fixture, then used as the reference for configs the fixtures do not
/// cover (rope scaling, partial rotary, windows, dense layers among sparse ones). Anything it does not know
/// (a model_type, a rope type, an activation) is a <see cref="NotSupportedException"/>, never a guess.
/// </summary>
public sealed class HfReference
{
    private readonly Dictionary<string, double[]> _weights = new();
    private readonly Dictionary<string, long[]> _shapes = new();

    private readonly string _modelType;       // after unwrapping a gemma3 text_config: "gemma3_text"
    private readonly string _prefix;          // "model." (or a multimodal wrapper's "model.language_model.")
    private readonly string _head;            // the output projection; the embedding when tied
    private readonly int _dim, _heads, _kvHeads, _headDim, _vocab;
    private readonly double _eps;

    // What the families differ in.
    private readonly bool _gemma;             // (1 + w) norms, scaled embedding, norms around attention and MLP
    private readonly bool _qkNorm;            // per-head RMSNorm of q and k before RoPE (qwen3, gemma3)
    private readonly bool _qkvBias, _outputBias, _mlpBias;
    private readonly bool _fused;             // phi3: qkv_proj and gate_up_proj
    private readonly Func<double, double> _activation;
    private readonly double _attentionScale;
    private readonly double? _attentionSoftcap, _finalSoftcap;

    // Mixture of experts (mixtral, qwen2_moe, qwen3_moe).
    private readonly int _experts, _expertsPerToken;
    private readonly bool _normaliseTopK, _sharedExpert;
    private readonly int[,] _expertCounts;

    private readonly Layer[] _layers;

    /// <param name="Window">sliding window W (query i sees keys i - W &lt; j &lt;= i), null = plain causal</param>
    /// <param name="Sparse">a mixture-of-experts MLP rather than a dense one</param>
    private sealed record Layer(int? Window, Rotary Rope, bool Sparse);

    /// <summary>Reads config.json and model.safetensors (or model-*.safetensors shards) of a checkpoint folder.</summary>
    public static HfReference Load(string checkpointDirectory) => Load(checkpointDirectory, null);

    /// <summary>
    /// As <see cref="Load(string)"/>, with <paramref name="editConfig"/> applied to the parsed config.json first:
    /// e.g. <c>json => json["sliding_window"] = null</c> runs a Mistral without its window. For a gemma3 config
    /// the text settings are under json["text_config"].
    /// </summary>
    public static HfReference Load(string directory, Action<JsonObject>? editConfig)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json"))) as JsonObject
            ?? throw new InvalidDataException($"{directory}/config.json is not a JSON object.");
        editConfig?.Invoke(json);
        return new HfReference(json, directory);
    }

    /// <summary>[layer, expert]: how many times each sparse layer routed a token to each expert, over every position
    /// the Logits and Greedy calls since Load have processed (each position once). [layers, 0] for a dense model.</summary>
    public int[,] ExpertCounts => (int[,])_expertCounts.Clone();

    /// <summary>Row t: the next-token logits after tokens[0..t] (positions 0..T-1, causal).</summary>
    public double[][] Logits(int[] tokens)
    {
        var cache = new Cache(_layers.Length);
        return tokens.Select(token => Step(token, cache)).ToArray();
    }

    /// <summary>The <paramref name="steps"/>-token argmax continuation of <paramref name="prompt"/> (ties: the lowest id).
    /// The last generated token is not fed back, so the expert counts cover the prompt and steps - 1 tokens.</summary>
    public int[] Greedy(int[] prompt, int steps)
    {
        if (prompt.Length == 0) throw new ArgumentException("The prompt is empty.", nameof(prompt));
        var cache = new Cache(_layers.Length);
        double[] logits = [];
        foreach (int token in prompt) logits = Step(token, cache);
        var generated = new int[steps];
        for (int i = 0; i < steps; i++)
        {
            generated[i] = Argmax(logits);
            if (i + 1 < steps) logits = Step(generated[i], cache);
        }
        return generated;
    }

    // ---------------------------------------------------------------- configuration

    private HfReference(JsonObject json, string directory)
    {
        var root = new Config(json);
        string modelType = root.String("model_type") ?? throw new InvalidDataException("config.json has no model_type.");
        var c = root;
        if (modelType == "gemma3")
        {
            // Gemma3ForConditionalGeneration: the language model's settings sit under text_config.
            c = new Config(root.Object("text_config") ?? throw new NotSupportedException("A gemma3 config without text_config."));
            modelType = "gemma3_text";
        }
        _modelType = modelType;
        bool qwen2Like = modelType is "qwen2" or "qwen2_moe";
        bool qwen3Like = modelType is "qwen3" or "qwen3_moe";
        bool moe = modelType is "mixtral" or "qwen2_moe" or "qwen3_moe";
        _gemma = modelType is "gemma2" or "gemma3_text";
        if (!(modelType is "llama" or "mistral" or "phi3" || qwen2Like || qwen3Like || moe || _gemma))
            throw new NotSupportedException($"model_type \"{modelType}\" is not one the reference knows.");

        ReadWeights(directory);

        _prefix = new[] { "model.", "model.language_model.", "language_model.model." }.FirstOrDefault(p => _weights.ContainsKey(p + "embed_tokens.weight"))
            ?? throw new InvalidDataException($"{directory}: no embed_tokens.weight under model., model.language_model. or language_model.model.");
        _vocab = (int)_shapes[_prefix + "embed_tokens.weight"][0];
        _dim = c.Int("hidden_size");
        _heads = c.Int("num_attention_heads");
        _kvHeads = c.Int("num_key_value_heads", _heads);
        _headDim = c.Int("head_dim", _gemma ? 256 : _dim / _heads);   // null or absent: hidden / heads (gemma: 256)
        if (_heads % _kvHeads != 0) throw new InvalidDataException($"{_heads} attention heads do not share {_kvHeads} key/value heads evenly.");
        int layerCount = c.Int("num_hidden_layers");
        _eps = c.Double("rms_norm_eps", modelType is "mixtral" or "phi3" ? 1e-5 : 1e-6);

        bool tied = c.Bool("tie_word_embeddings", root.Bool("tie_word_embeddings", _gemma));
        _head = tied ? _prefix + "embed_tokens.weight"
            : new[] { "lm_head.weight", "language_model.lm_head.weight" }.FirstOrDefault(_weights.ContainsKey)
              ?? throw new InvalidDataException($"{directory}: tie_word_embeddings is false but there is no lm_head.weight.");

        bool attentionBias = c.Bool("attention_bias", false);
        (_qkvBias, _outputBias) = modelType switch
        {
            "llama" or "qwen3" or "qwen3_moe" or "gemma2" or "gemma3_text" => (attentionBias, attentionBias),
            "qwen2" or "qwen2_moe" => (true, false),
            _ => (false, false),   // mistral, mixtral, phi3
        };
        _mlpBias = modelType == "llama" && c.Bool("mlp_bias", false);
        _qkNorm = qwen3Like || modelType == "gemma3_text";
        _fused = modelType == "phi3";
        _activation = Activation(_gemma ? c.String("hidden_activation") ?? c.String("hidden_act") ?? "gelu_pytorch_tanh" : c.String("hidden_act") ?? "silu");
        _attentionScale = _gemma ? 1 / Math.Sqrt(c.Double("query_pre_attn_scalar", 256)) : 1 / Math.Sqrt(_headDim);
        _attentionSoftcap = modelType == "gemma2" ? c.NullableDouble("attn_logit_softcapping", 50.0) : null;
        _finalSoftcap = modelType == "gemma2" ? c.NullableDouble("final_logit_softcapping", 30.0)
            : modelType == "gemma3_text" ? c.NullableDouble("final_logit_softcapping", null) : null;
        if (modelType == "gemma3_text" && c.Bool("use_bidirectional_attention", false))
            throw new NotSupportedException("gemma3 with use_bidirectional_attention.");

        if (moe)
        {
            _experts = modelType == "mixtral" ? c.Int("num_local_experts") : c.Int("num_experts");
            _expertsPerToken = c.Int("num_experts_per_tok");
            _normaliseTopK = modelType == "mixtral" || c.Bool("norm_topk_prob", false);
            _sharedExpert = modelType == "qwen2_moe";
        }
        _expertCounts = new int[layerCount, _experts];

        int[] mlpOnly = c.Ints("mlp_only_layers");
        int sparseStep = c.Int("decoder_sparse_step", 1);
        string[]? layerTypes = c.Strings("layer_types");
        if (layerTypes is not null && layerTypes.Length != layerCount)
            throw new InvalidDataException($"layer_types lists {layerTypes.Length} layers, num_hidden_layers is {layerCount}.");

        _layers = new Layer[layerCount];
        for (int i = 0; i < layerCount; i++)
        {
            bool sparse = modelType == "mixtral"
                || (modelType is "qwen2_moe" or "qwen3_moe" && !mlpOnly.Contains(i) && _experts > 0 && (i + 1) % sparseStep == 0);
            bool local = _gemma && (layerTypes is not null ? layerTypes[i] == "sliding_attention"
                : modelType == "gemma2" ? (i + 1) % 2 != 0 : (i + 1) % c.Int("sliding_window_pattern", 6) != 0);
            _layers[i] = new Layer(Window(c, modelType, i, local, layerTypes), LayerRope(c, modelType, local), sparse);
        }
    }

    /// <summary>The sliding window of layer i, by each family's rule (HF config classes' defaults when a key is absent).</summary>
    private static int? Window(Config c, string modelType, int layer, bool local, string[]? layerTypes)
    {
        switch (modelType)
        {
            case "mistral":
                return c.NullableInt("sliding_window", 4096);          // every layer
            case "mixtral" or "phi3":
                return c.NullableInt("sliding_window", null);          // every layer
            case "qwen2" or "qwen2_moe" or "qwen3" or "qwen3_moe":
                // HF: sliding_window only when use_sliding_window; then on the layers layer_types marks sliding,
                // or without layer_types on layers i >= max_window_layers.
                int? window = c.Bool("use_sliding_window", false) ? c.NullableInt("sliding_window", 4096) : null;
                if (window is null) return null;
                bool sliding = layerTypes is not null ? layerTypes[layer] == "sliding_attention" : layer >= c.Int("max_window_layers", 28);
                return sliding ? window : null;
            case "gemma2" or "gemma3_text":
                return local ? c.NullableInt("sliding_window", 4096) : null;
            default:
                return null;                                           // llama
        }
    }

    /// <summary>The RoPE of a layer: gemma3's local layers use rope_local_base_freq and no scaling, every other layer
    /// rope_theta with rope_scaling. transformers 5 configs carry both in rope_parameters (per layer type for gemma3).</summary>
    private Rotary LayerRope(Config c, string modelType, bool local)
    {
        double defaultTheta = modelType is "mixtral" or "gemma3_text" ? 1e6 : 10000;
        int maxPositions = c.Int("max_position_embeddings", 2048);
        double partial = c.Double("partial_rotary_factor", 1.0);
        if (!c.Has("rope_scaling") && c.Object("rope_parameters") is JsonObject parameters)
        {
            if (!parameters.ContainsKey("rope_theta") && parameters[local ? "sliding_attention" : "full_attention"] is JsonObject perType)
                parameters = perType;
            var p = new Config(parameters);
            return Rotary.Create(_headDim, p.Double("partial_rotary_factor", partial), p.Double("rope_theta", defaultTheta), parameters, maxPositions);
        }
        if (modelType == "gemma3_text" && local)
            return Rotary.Create(_headDim, partial, c.Double("rope_local_base_freq", 10000), null, maxPositions);
        return Rotary.Create(_headDim, partial, c.Double("rope_theta", defaultTheta), c.Object("rope_scaling"), maxPositions);
    }

    private static Func<double, double> Activation(string name) => name switch
    {
        "silu" or "swish" => x => x / (1 + Math.Exp(-x)),
        // gelu_pytorch_tanh, gelu_new and gelu_fast are all the tanh approximation.
        "gelu_pytorch_tanh" or "gelu_new" or "gelu_fast" => x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
        _ => throw new NotSupportedException($"activation \"{name}\""),
    };

    private void ReadWeights(string directory)
    {
        string single = Path.Combine(directory, "model.safetensors");
        string[] files = File.Exists(single) ? [single] : Directory.GetFiles(directory, "model-*.safetensors").Order().ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"{directory}: no model.safetensors.");
        foreach (string path in files)
        {
            using var file = SafetensorsFile.Open(path);
            foreach (var (name, entry) in file.Entries)
            {
                if (entry.DType is not ("F32" or "F16" or "BF16")) continue;
                _weights[name] = Array.ConvertAll(file.ReadFloats(name), v => (double)v);
                _shapes[name] = entry.Shape;
            }
        }
    }

    private double[] W(string name) => _weights.TryGetValue(name, out var w) ? w
        : throw new KeyNotFoundException($"The checkpoint has no tensor \"{name}\" ({_modelType}).");

    // ---------------------------------------------------------------- forward

    /// <summary>Every layer's keys (after RoPE) and values of the positions fed so far.</summary>
    private sealed class Cache(int layers)
    {
        public readonly List<double[]>[] Keys = Enumerable.Range(0, layers).Select(_ => new List<double[]>()).ToArray();
        public readonly List<double[]>[] Values = Enumerable.Range(0, layers).Select(_ => new List<double[]>()).ToArray();
        public int Length => Keys.Length == 0 ? 0 : Keys[0].Count;
    }

    /// <summary>Feeds one token at the next position and returns the logits there.</summary>
    private double[] Step(int token, Cache cache)
    {
        if (token < 0 || token >= _vocab) throw new ArgumentOutOfRangeException(nameof(token), $"token {token} is outside the vocabulary of {_vocab}.");
        int position = cache.Length;
        var x = W(_prefix + "embed_tokens.weight").AsSpan(token * _dim, _dim).ToArray();
        if (_gemma)
        {
            double normalizer = (float)Math.Sqrt(_dim);   // HF: sqrt(hidden_size) as a tensor of the model dtype (F32)
            for (int c = 0; c < _dim; c++) x[c] *= normalizer;
        }

        for (int i = 0; i < _layers.Length; i++)
        {
            string p = $"{_prefix}layers.{i}.";
            var attention = Attention(i, p, Norm(x, p + "input_layernorm.weight"), cache, position);
            if (_gemma) attention = Norm(attention, p + "post_attention_layernorm.weight");
            Add(x, attention);

            var h = Norm(x, p + (_gemma ? "pre_feedforward_layernorm.weight" : "post_attention_layernorm.weight"));
            var mlp = _layers[i].Sparse ? SparseMlp(i, p, h) : DenseMlp(p, h);
            if (_gemma) mlp = Norm(mlp, p + "post_feedforward_layernorm.weight");
            Add(x, mlp);
        }

        var logits = Linear(Norm(x, _prefix + "norm.weight"), _head);
        if (_finalSoftcap is double cap)
            for (int v = 0; v < logits.Length; v++) logits[v] = cap * Math.Tanh(logits[v] / cap);
        return logits;
    }

    private double[] Attention(int layer, string p, double[] h, Cache cache, int position)
    {
        int qSize = _heads * _headDim, kvSize = _kvHeads * _headDim;
        double[] q, k, v;
        if (_fused)
        {
            var qkv = Linear(h, p + "self_attn.qkv_proj.weight");   // rows: q | k | v
            q = qkv[..qSize];
            k = qkv[qSize..(qSize + kvSize)];
            v = qkv[(qSize + kvSize)..];
        }
        else
        {
            q = Linear(h, p + "self_attn.q_proj.weight", _qkvBias ? p + "self_attn.q_proj.bias" : null);
            k = Linear(h, p + "self_attn.k_proj.weight", _qkvBias ? p + "self_attn.k_proj.bias" : null);
            v = Linear(h, p + "self_attn.v_proj.weight", _qkvBias ? p + "self_attn.v_proj.bias" : null);
        }
        if (q.Length != qSize || k.Length != kvSize || v.Length != kvSize)
            throw new InvalidDataException($"{p}self_attn: q/k/v have {q.Length}/{k.Length}/{v.Length} rows, expected {qSize}/{kvSize}/{kvSize}.");
        if (_qkNorm)
        {
            NormEachHead(q, W(p + "self_attn.q_norm.weight"));
            NormEachHead(k, W(p + "self_attn.k_norm.weight"));
        }
        var layerPlan = _layers[layer];
        layerPlan.Rope.Apply(q, _heads, _headDim, position);
        layerPlan.Rope.Apply(k, _kvHeads, _headDim, position);
        cache.Keys[layer].Add(k);
        cache.Values[layer].Add(v);

        var output = new double[qSize];
        int first = layerPlan.Window is int window ? Math.Max(0, position - window + 1) : 0;
        for (int head = 0; head < _heads; head++)
        {
            int kv = head / (_heads / _kvHeads);
            var scores = new double[position - first + 1];
            for (int j = first; j <= position; j++)
            {
                double dot = 0;
                for (int c = 0; c < _headDim; c++) dot += q[head * _headDim + c] * cache.Keys[layer][j][kv * _headDim + c];
                double s = dot * _attentionScale;
                if (_attentionSoftcap is double cap) s = cap * Math.Tanh(s / cap);
                scores[j - first] = s;
            }
            var weights = Softmax(scores);
            for (int j = first; j <= position; j++)
                for (int c = 0; c < _headDim; c++)
                    output[head * _headDim + c] += weights[j - first] * cache.Values[layer][j][kv * _headDim + c];
        }
        return Linear(output, p + "self_attn.o_proj.weight", _outputBias ? p + "self_attn.o_proj.bias" : null);
    }

    private double[] DenseMlp(string p, double[] h)
    {
        if (_fused)
        {
            var gateUp = Linear(h, p + "mlp.gate_up_proj.weight");   // rows: gate | up
            int n = gateUp.Length / 2;
            var inner = new double[n];
            for (int c = 0; c < n; c++) inner[c] = gateUp[n + c] * _activation(gateUp[c]);
            return Linear(inner, p + "mlp.down_proj.weight");
        }
        string[]? biases = _mlpBias ? [p + "mlp.gate_proj.bias", p + "mlp.up_proj.bias", p + "mlp.down_proj.bias"] : null;
        return GatedMlp(h, p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight", biases);
    }

    /// <summary>Router softmax over all experts, the top k by probability (ties: the lower index), weighted by p_e
    /// (divided by the chosen ones' sum when normalising); Qwen2-MoE adds its sigmoid-gated shared expert.</summary>
    private double[] SparseMlp(int layer, string p, double[] h)
    {
        bool mixtral = _modelType == "mixtral";
        var probabilities = Softmax(Linear(h, p + (mixtral ? "block_sparse_moe.gate.weight" : "mlp.gate.weight")));
        if (probabilities.Length != _experts)
            throw new InvalidDataException($"{p}: the router scores {probabilities.Length} experts, the config says {_experts}.");
        int[] chosen = Enumerable.Range(0, _experts).OrderByDescending(e => probabilities[e]).ThenBy(e => e).Take(_expertsPerToken).ToArray();
        double sum = chosen.Sum(e => probabilities[e]);

        var y = new double[_dim];
        foreach (int e in chosen)
        {
            _expertCounts[layer, e]++;
            var expert = mixtral
                ? GatedMlp(h, p + $"block_sparse_moe.experts.{e}.w1.weight", p + $"block_sparse_moe.experts.{e}.w3.weight", p + $"block_sparse_moe.experts.{e}.w2.weight")
                : GatedMlp(h, p + $"mlp.experts.{e}.gate_proj.weight", p + $"mlp.experts.{e}.up_proj.weight", p + $"mlp.experts.{e}.down_proj.weight");
            double weight = _normaliseTopK ? probabilities[e] / sum : probabilities[e];
            for (int c = 0; c < _dim; c++) y[c] += weight * expert[c];
        }
        if (_sharedExpert)
        {
            double gate = 1 / (1 + Math.Exp(-Linear(h, p + "mlp.shared_expert_gate.weight")[0]));
            var shared = GatedMlp(h, p + "mlp.shared_expert.gate_proj.weight", p + "mlp.shared_expert.up_proj.weight", p + "mlp.shared_expert.down_proj.weight");
            for (int c = 0; c < _dim; c++) y[c] += gate * shared[c];
        }
        return y;
    }

    /// <summary>down(act(gate h) * up h), with optional [gate, up, down] biases.</summary>
    private double[] GatedMlp(double[] h, string gate, string up, string down, string[]? biases = null)
    {
        var g = Linear(h, gate, biases?[0]);
        var u = Linear(h, up, biases?[1]);
        var inner = new double[g.Length];
        for (int c = 0; c < g.Length; c++) inner[c] = _activation(g[c]) * u[c];
        return Linear(inner, down, biases?[2]);
    }

    // ---------------------------------------------------------------- arithmetic

    /// <summary>y = W x (+ b), W stored [out, in].</summary>
    private double[] Linear(double[] x, string weight, string? bias = null)
    {
        var w = W(weight);
        long[] shape = _shapes[weight];
        if (shape.Length != 2 || shape[1] != x.Length)
            throw new InvalidDataException($"\"{weight}\" is [{string.Join(", ", shape)}]; its input has {x.Length} features.");
        int outFeatures = (int)shape[0];
        var y = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            double sum = 0;
            for (int c = 0; c < x.Length; c++) sum += w[o * x.Length + c] * x[c];
            y[o] = sum;
        }
        if (bias is not null)
        {
            var b = W(bias);
            for (int o = 0; o < outFeatures; o++) y[o] += b[o];
        }
        return y;
    }

    private double[] Norm(double[] x, string weight) => RmsNorm(x, W(weight), _eps, _gemma);

    private void NormEachHead(double[] x, double[] weight)
    {
        for (int head = 0; head < x.Length / _headDim; head++)
            RmsNorm(x.AsSpan(head * _headDim, _headDim).ToArray(), weight, _eps, _gemma).CopyTo(x, head * _headDim);
    }

    /// <summary>x / sqrt(mean(x^2) + eps) * w, or * (1 + w) for Gemma.</summary>
    private static double[] RmsNorm(double[] x, double[] weight, double eps, bool onePlusWeight)
    {
        if (weight.Length != x.Length) throw new InvalidDataException($"A norm of {weight.Length} weights over {x.Length} features.");
        double scale = 1 / Math.Sqrt(x.Sum(v => v * v) / x.Length + eps);
        return x.Select((v, c) => v * scale * (onePlusWeight ? 1 + weight[c] : weight[c])).ToArray();
    }

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static void Add(double[] x, double[] y)
    {
        for (int c = 0; c < x.Length; c++) x[c] += y[c];
    }

    private static int Argmax(double[] logits)
    {
        int best = 0;
        for (int v = 1; v < logits.Length; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }

    // ---------------------------------------------------------------- RoPE

    /// <summary>
    /// Rotary position embedding as HF applies it: rotate_half on the first <paramref name="Dim"/> dims of each head
    /// (pairs j and j + Dim/2, angle position * InverseFrequencies[j]), the rest of the head passed unchanged, cos and
    /// sin multiplied by <paramref name="AttentionFactor"/> (1 except yarn).
    /// </summary>
    public sealed record Rotary(int Dim, double[] InverseFrequencies, double AttentionFactor)
    {
        /// <summary>
        /// HF modeling_rope_utils: rotary dim = int(head_dim * partial_rotary_factor), inv_freq_j = theta^(-2j/dim);
        /// then by rope_scaling's rope_type (or older "type"): none/"default", "linear", "llama3", "yarn". Any other
        /// type throws <see cref="NotSupportedException"/>.
        /// </summary>
        public static Rotary Create(int headDim, double partialRotaryFactor, double theta, JsonObject? ropeScaling, int maxPositionEmbeddings)
        {
            int dim = (int)(headDim * partialRotaryFactor);
            if (dim <= 0 || dim % 2 != 0 || dim > headDim)
                throw new NotSupportedException($"rotary dim {dim} (head_dim {headDim} x partial_rotary_factor {partialRotaryFactor}).");
            var inv = new double[dim / 2];
            for (int j = 0; j < inv.Length; j++) inv[j] = Math.Pow(theta, -2.0 * j / dim);

            var s = ropeScaling is null ? null : new Config(ropeScaling);
            string type = s?.String("rope_type") ?? s?.String("type") ?? "default";
            switch (type)
            {
                case "default":
                    return new Rotary(dim, inv, 1.0);

                case "linear":
                {
                    double factor = s!.Double("factor");
                    return new Rotary(dim, inv.Select(f => f / factor).ToArray(), 1.0);
                }

                case "llama3":
                {
                    // _compute_llama3_parameters: wavelengths below high_wl kept, above low_wl divided by factor,
                    // in between smoothly interpolated.
                    double factor = s!.Double("factor"), low = s.Double("low_freq_factor"), high = s.Double("high_freq_factor");
                    double original = s.Double("original_max_position_embeddings");
                    double lowWavelength = original / low, highWavelength = original / high;
                    var scaled = new double[inv.Length];
                    for (int j = 0; j < inv.Length; j++)
                    {
                        double wavelength = 2 * Math.PI / inv[j];
                        if (wavelength < highWavelength) scaled[j] = inv[j];
                        else if (wavelength > lowWavelength) scaled[j] = inv[j] / factor;
                        else
                        {
                            double smooth = (original / wavelength - low) / (high - low);
                            scaled[j] = (1 - smooth) * inv[j] / factor + smooth * inv[j];
                        }
                    }
                    return new Rotary(dim, scaled, 1.0);
                }

                case "yarn":
                {
                    // _compute_yarn_parameters of recent transformers.
                    double factor = s!.Double("factor");
                    double original = s.NullableDouble("original_max_position_embeddings", null) ?? maxPositionEmbeddings;
                    static double MScale(double scale, double m = 1) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
                    double? mscale = s.NullableDouble("mscale", null), mscaleAllDim = s.NullableDouble("mscale_all_dim", null);
                    double attentionFactor = s.NullableDouble("attention_factor", null)
                        ?? (mscale is double m && m != 0 && mscaleAllDim is double a && a != 0 ? MScale(factor, m) / MScale(factor, a) : MScale(factor));
                    double betaFast = s.NullableDouble("beta_fast", null) is double bf && bf != 0 ? bf : 32;
                    double betaSlow = s.NullableDouble("beta_slow", null) is double bs && bs != 0 ? bs : 1;
                    double CorrectionDim(double rotations) => dim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
                    double lowDim = CorrectionDim(betaFast), highDim = CorrectionDim(betaSlow);
                    if (s.Bool("truncate", true)) (lowDim, highDim) = (Math.Floor(lowDim), Math.Ceiling(highDim));
                    lowDim = Math.Max(lowDim, 0);
                    highDim = Math.Min(highDim, dim - 1);
                    if (lowDim == highDim) highDim += 0.001;
                    var scaled = new double[inv.Length];
                    for (int j = 0; j < inv.Length; j++)
                    {
                        double ramp = Math.Clamp((j - lowDim) / (highDim - lowDim), 0, 1);
                        double extrapolation = 1 - ramp;
                        scaled[j] = inv[j] / factor * (1 - extrapolation) + inv[j] * extrapolation;
                    }
                    return new Rotary(dim, scaled, attentionFactor);
                }

                default:
                    throw new NotSupportedException($"rope_type \"{type}\"");
            }
        }

        /// <summary>Rotates each of the <paramref name="heads"/> heads of <paramref name="x"/> in place for <paramref name="position"/>.</summary>
        public void Apply(double[] x, int heads, int headDim, int position)
        {
            int half = Dim / 2;
            for (int head = 0; head < heads; head++)
                for (int j = 0; j < half; j++)
                {
                    double angle = position * InverseFrequencies[j];
                    double cos = Math.Cos(angle) * AttentionFactor, sin = Math.Sin(angle) * AttentionFactor;
                    int i1 = head * headDim + j, i2 = i1 + half;
                    double a = x[i1], b = x[i2];
                    x[i1] = a * cos - b * sin;
                    x[i2] = b * cos + a * sin;
                }
        }
    }

    // ---------------------------------------------------------------- config.json access

    /// <summary>Typed reads of a config object; "absent" and "null" are told apart where HF does (a default when
    /// absent, "none" when null).</summary>
    private sealed class Config(JsonObject json)
    {
        private JsonNode? Node(string key) => json.TryGetPropertyValue(key, out var node) ? node : null;

        public bool Has(string key) => Node(key) is not null;

        public string? String(string key) => Node(key) is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

        public JsonObject? Object(string key) => Node(key) as JsonObject;

        public double Double(string key) => Node(key) is JsonNode node ? Number(node, key) : throw new InvalidDataException($"config.json has no \"{key}\".");

        public double Double(string key, double fallback) => Node(key) is JsonNode node ? Number(node, key) : fallback;

        /// <summary>Absent: <paramref name="whenAbsent"/>; JSON null: null.</summary>
        public double? NullableDouble(string key, double? whenAbsent) =>
            !json.TryGetPropertyValue(key, out var node) ? whenAbsent : node is null ? null : Number(node, key);

        public int? NullableInt(string key, int? whenAbsent) => NullableDouble(key, whenAbsent) is double d ? checked((int)d) : null;

        public int Int(string key) => checked((int)Double(key));

        public int Int(string key, int fallback) => checked((int)Double(key, fallback));

        public bool Bool(string key, bool fallback) => Node(key) switch
        {
            null => fallback,
            JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
            JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
            _ => throw new InvalidDataException($"config.json \"{key}\" is not a boolean."),
        };

        public int[] Ints(string key) => Node(key) is JsonArray array ? array.Select(n => checked((int)Number(n!, key))).ToArray() : [];

        public string[]? Strings(string key) => Node(key) is JsonArray array ? array.Select(n => n!.GetValue<string>()).ToArray() : null;

        private static double Number(JsonNode node, string key) =>
            node.GetValueKind() == JsonValueKind.Number ? double.Parse(node.ToJsonString(), CultureInfo.InvariantCulture)
            : throw new InvalidDataException($"config.json \"{key}\" is not a number.");
    }
}
