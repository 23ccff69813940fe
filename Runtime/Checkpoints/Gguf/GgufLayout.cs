using System.Globalization;
using System.Text.Json.Nodes;

namespace Tessera.Checkpoints;

/// <summary>
/// What a GGUF file holds, in the terms a Hugging Face checkpoint uses: the config.json its metadata stands for, and
/// each Hugging Face tensor name mapped to where that tensor sits in the file. The inverse of llama.cpp's converter
/// (convert_hf_to_gguf.py) for the architectures Tessera runs; the logits are those llama.cpp computes from the same
/// file, which for Gemma's query scale and Mistral's sliding window (llama.cpp has none for its llama architecture)
/// is what the file says, not what the original Hugging Face checkpoint did.
/// </summary>
internal sealed class GgufLayout
{
    private readonly GgufFile _file;
    private readonly GgufMetadata _meta;
    private readonly string _arch;
    private readonly JsonObject _config = new();
    private readonly Dictionary<string, GgufTensorView> _views = new(StringComparer.Ordinal);

    private GgufLayout(GgufFile file)
    {
        _file = file;
        _meta = new GgufMetadata(file);
        _arch = _meta.String("general.architecture") ?? throw _meta.Missing("general.architecture");
    }

    public JsonObject Config => _config;

    public IReadOnlyDictionary<string, GgufTensorView> Views => _views;

    /// <summary>The GGUF architectures read here, and the Hugging Face model_type each becomes.</summary>
    public static readonly IReadOnlyList<string> Architectures = ["llama", "qwen2", "qwen3", "qwen2moe", "qwen3moe", "gemma2", "gemma3", "phi3", "gpt2"];

    public static GgufLayout Read(GgufFile file)
    {
        var layout = new GgufLayout(file);
        switch (layout._arch)
        {
            case "llama": layout.ReadLlama(); break;
            case "qwen2" or "qwen3" or "qwen2moe" or "qwen3moe": layout.ReadQwen(); break;
            case "gemma2" or "gemma3": layout.ReadGemma(); break;
            case "phi3": layout.ReadPhi3(); break;
            case "gpt2": layout.ReadGpt2(); break;
            default:
                throw new CheckpointException(
                    $"{file.Path}: GGUF architecture {FileText.Quoted(layout._arch)} is not one Tessera runs ({string.Join(", ", Architectures)}).");
        }
        return layout;
    }

    private string Key(string suffix) => $"{_arch}.{suffix}";

    private void Set(string key, JsonNode? value) => _config[key] = value;

    /// <summary>The sizes every decoder has, and the vocabulary (from the token list when the architecture key is absent).</summary>
    private (int Dim, int Layers, int Heads, int KvHeads, int HeadDim) Common(bool rmsNorm = true)
    {
        int dim = Int("embedding_length"), layers = Int("block_count"), heads = Int("attention.head_count");
        int kvHeads = (int)(_meta.Integer(Key("attention.head_count_kv")) ?? heads);
        int headDim = (int)(_meta.Integer(Key("attention.key_length")) ?? (heads > 0 ? dim / heads : 0));
        if (_meta.Integer(Key("attention.value_length")) is { } v && v != headDim)
            throw new CheckpointException($"{_file.Path}: \"{Key("attention.value_length")}\" is {v} but the key length is {headDim}; Tessera's attention needs them equal.");
        Set("hidden_size", dim);
        Set("num_hidden_layers", layers);
        Set("num_attention_heads", heads);
        Set("num_key_value_heads", kvHeads);
        Set("head_dim", headDim);
        Set("vocab_size", Vocab());
        Set("max_position_embeddings", Int("context_length"));
        if (rmsNorm) Set("rms_norm_eps", _meta.RequireReal(Key("attention.layer_norm_rms_epsilon")));
        Set("rope_theta", _meta.Real(Key("rope.freq_base")) ?? 10000.0);
        if (_meta.Integer(Key("rope.dimension_count")) is { } rotary && rotary != headDim)
            Set("partial_rotary_factor", (double)rotary / headDim);
        Set("tie_word_embeddings", !_file.Tensors.ContainsKey("output.weight"));
        return (dim, layers, heads, kvHeads, headDim);
    }

    private int Int(string suffix)
    {
        long value = _meta.RequireInteger(Key(suffix));
        if (value is <= 0 or > int.MaxValue)
            throw new CheckpointException($"{_file.Path}: GGUF metadata \"{Key(suffix)}\" is {value}; it must be a positive size.");
        return (int)value;
    }

    private int Vocab()
    {
        if (_meta.Integer(Key("vocab_size")) is { } v) return (int)v;
        if (_meta.Array<string>("tokenizer.ggml.tokens", "a list of strings") is { } tokens) return tokens.Length;
        if (_file.Tensors.TryGetValue("token_embd.weight", out var embed) && embed.Dimensions.Length == 2) return (int)embed.Dimensions[1];
        throw _meta.Missing(Key("vocab_size"));
    }

    /// <summary>
    /// rope.scaling.* as a Hugging Face rope_scaling object. llama.cpp keeps Llama 3.1's scaling as the rope_freqs
    /// tensor (one divisor per frequency), from which the llama3 parameters are recovered (<see cref="Llama3FromDivisors"/>).
    /// </summary>
    private void RopeScaling(int headDim, bool llama3Allowed)
    {
        string? type = _meta.String(Key("rope.scaling.type"));
        double factor = _meta.Real(Key("rope.scaling.factor")) ?? 1;
        switch (type)
        {
            case null or "none":
                break;
            case "linear":
                if (factor != 1) Set("rope_scaling", new JsonObject { ["rope_type"] = "linear", ["factor"] = factor });
                break;
            case "yarn":
                Set("rope_scaling", new JsonObject
                {
                    ["rope_type"] = "yarn",
                    ["factor"] = factor,
                    ["original_max_position_embeddings"] = _meta.RequireInteger(Key("rope.scaling.original_context_length")),
                    ["beta_fast"] = _meta.Real(Key("rope.scaling.yarn_beta_fast")) ?? 32.0,
                    ["beta_slow"] = _meta.Real(Key("rope.scaling.yarn_beta_slow")) ?? 1.0,
                });
                break;
            default:
                throw new CheckpointException($"{_file.Path}: \"{Key("rope.scaling.type")}\" is {FileText.Quoted(type)}, which Tessera does not implement (linear and yarn are).");
        }
        if (_file.Tensors.TryGetValue("rope_freqs.weight", out var freqs))
        {
            if (!llama3Allowed)
                throw new CheckpointException($"{_file.Path}: the tensor rope_freqs.weight (per-frequency RoPE divisors) is only read for the llama architecture.");
            var divisors = new float[freqs.Dimensions[0]];
            if (freqs.Type != Quantization.GgmlType.F32 || divisors.Length != headDim / 2)
                throw new CheckpointException($"{_file.Path}: rope_freqs.weight should be {headDim / 2} F32 values (one per RoPE frequency), but is {Quantization.GgmlTypes.Name(freqs.Type)} {freqs.ShapeText}.");
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_file.Bytes(freqs)).CopyTo(divisors);
            if (divisors.Any(d => d != 1)) Set("rope_scaling", Llama3FromDivisors(divisors, headDim, _meta.Real(Key("rope.freq_base")) ?? 10000.0));
        }
    }

    /// <summary>
    /// Llama 3.1's scaling from its per-frequency divisors f_j: 1 for short wavelengths, the factor for long ones, and
    /// between them 1 / ((1 - s) / factor + s) with s linear in 1 / wavelength. Only that line matters, so the
    /// original context is taken as 1 and low/high_freq_factor are fitted to it; a table no llama3 scaling produces is
    /// refused.
    /// </summary>
    internal JsonObject Llama3FromDivisors(float[] divisors, int headDim, double theta)
    {
        double factor = divisors.Max();
        var inverseWavelength = Enumerable.Range(0, divisors.Length).Select(j => 1 / (2 * Math.PI * Math.Pow(theta, 2.0 * j / headDim))).ToArray();
        bool Kept(int j) => Math.Abs(divisors[j] - 1) <= 1e-6;
        bool Divided(int j) => Math.Abs(divisors[j] - factor) <= 1e-6 * factor;
        var between = Enumerable.Range(0, divisors.Length).Where(j => !Kept(j) && !Divided(j)).ToArray();
        double low, high;
        if (between.Length >= 2)
        {
            // s = (u - low) / (high - low) for u = 1 / wavelength: a line through the blended frequencies.
            double S(int j) => (1 / divisors[j] - 1 / factor) / (1 - 1 / factor);
            int a = between[0], b = between[^1];
            double slope = (S(b) - S(a)) / (inverseWavelength[b] - inverseWavelength[a]);
            low = inverseWavelength[a] - S(a) / slope;
            high = low + 1 / slope;
        }
        else
        {
            // No blend to fit (or one point): any boundaries between the kept and the divided frequencies do.
            double keptMin = Enumerable.Range(0, divisors.Length).Where(Kept).Select(j => inverseWavelength[j]).DefaultIfEmpty(double.PositiveInfinity).Min();
            double dividedMax = Enumerable.Range(0, divisors.Length).Where(Divided).Select(j => inverseWavelength[j]).DefaultIfEmpty(0).Max();
            low = dividedMax * 1.000001;
            high = Math.Min(keptMin, low * 4) * 0.999999;
            if (between.Length == 1)
            {
                int j = between[0];
                double s = (1 / divisors[j] - 1 / factor) / (1 - 1 / factor);
                high = (inverseWavelength[j] - low) / s + low;
            }
        }
        var fitted = new JsonObject
        {
            ["rope_type"] = "llama3",
            ["factor"] = factor,
            ["low_freq_factor"] = low,
            ["high_freq_factor"] = high,
            ["original_max_position_embeddings"] = 1.0,
        };
        var check = Tessera.RopeScaling.Llama3(factor, low, high, 1).InverseFrequencies(headDim, theta);
        for (int j = 0; j < divisors.Length; j++)
        {
            double expected = Math.Pow(theta, -2.0 * j / headDim) / divisors[j];
            if (!(low > 0 && high > low) || Math.Abs(check[j] - expected) > 1e-5 * expected)
                throw new CheckpointException($"{_file.Path}: rope_freqs.weight holds divisors that no llama3 RoPE scaling gives (frequency {j}: {divisors[j].ToString(CultureInfo.InvariantCulture)}).");
        }
        return fitted;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Tensors

    private GgufTensor Stored(string name) =>
        _file.Tensors.TryGetValue(name, out var t) ? t
            : throw new CheckpointException($"{_file.Path}: the GGUF file has no tensor \"{name}\", which a {_arch} model needs.");

    /// <summary>A stored tensor under its Hugging Face name, in the same shape (the file's order reversed).</summary>
    private void Map(string hf, string gguf, int headRows = 0, float valueOffset = 0)
    {
        if (!_file.Tensors.TryGetValue(gguf, out var t)) return;
        _views[hf] = new GgufTensorView(t, t.Shape, HeadRows: headRows, ValueOffset: valueOffset);
    }

    /// <summary>A Linear's weight and, when stored, its bias.</summary>
    private void MapLinear(string hf, string gguf, int headRows = 0)
    {
        Map(hf + ".weight", gguf + ".weight", headRows);
        Map(hf + ".bias", gguf + ".bias", headRows);
    }

    /// <summary>Expert e's [out, in] rows of a stacked [E, out, in] tensor (dimensions in, out, E).</summary>
    private void MapExperts(int experts, string hfPrefix, string hfSuffix, string gguf)
    {
        if (!_file.Tensors.TryGetValue(gguf, out var t)) return;
        if (t.Dimensions.Length != 3 || t.Dimensions[2] != experts)
            throw new CheckpointException($"{_file.Path}: tensor {FileText.Quoted(gguf)} has shape {t.ShapeText}, not [{experts}, out, in] for {experts} experts.");
        long rows = t.Dimensions[1];
        for (int e = 0; e < experts; e++)
            _views[$"{hfPrefix}{e}.{hfSuffix}"] = new GgufTensorView(t, [rows, t.Dimensions[0]], FirstRow: e * rows);
    }

    /// <summary>The token embedding, the final norm and the head (absent when tied), as every decoder here names them.</summary>
    private void MapEnds(float normOffset = 0)
    {
        Map("model.embed_tokens.weight", "token_embd.weight");
        Map("model.norm.weight", "output_norm.weight", valueOffset: normOffset);
        Map("lm_head.weight", "output.weight");
    }

    /// <summary>Layer i's separate q, k, v and o projections and, where stored, its per-head q and k norms.</summary>
    private void MapAttention(string p, string b, int qkHeadRows = 0, float normOffset = 0)
    {
        MapLinear(p + "self_attn.q_proj", b + "attn_q", qkHeadRows);
        MapLinear(p + "self_attn.k_proj", b + "attn_k", qkHeadRows);
        MapLinear(p + "self_attn.v_proj", b + "attn_v");
        MapLinear(p + "self_attn.o_proj", b + "attn_output");
        Map(p + "self_attn.q_norm.weight", b + "attn_q_norm.weight", valueOffset: normOffset);
        Map(p + "self_attn.k_norm.weight", b + "attn_k_norm.weight", valueOffset: normOffset);
    }

    /// <summary>Layer i's gated MLP.</summary>
    private void MapMlp(string p, string b)
    {
        MapLinear(p + "mlp.gate_proj", b + "ffn_gate");
        MapLinear(p + "mlp.up_proj", b + "ffn_up");
        MapLinear(p + "mlp.down_proj", b + "ffn_down");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Architectures

    private void ReadLlama()
    {
        var (_, layers, heads, kvHeads, headDim) = Common();
        Set("intermediate_size", Int("feed_forward_length"));
        Set("hidden_act", "silu");
        RopeScaling(headDim, llama3Allowed: true);
        long experts = _meta.Integer(Key("expert_count")) ?? 0;
        Set("model_type", experts > 0 ? "mixtral" : "llama");
        if (experts > 0)
        {
            Set("num_local_experts", experts);
            Set("num_experts_per_tok", _meta.RequireInteger(Key("expert_used_count")));
        }
        MapEnds();
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            Map(p + "input_layernorm.weight", b + "attn_norm.weight");
            // llama.cpp's llama architecture rotates interleaved pairs, so its converter permuted q's and k's rows.
            MapAttention(p, b, qkHeadRows: headDim);
            Map(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
            if (experts == 0)
            {
                MapMlp(p, b);
                continue;
            }
            string m = p + "block_sparse_moe.";
            Map(m + "gate.weight", b + "ffn_gate_inp.weight");
            foreach (var (ours, theirs) in new[] { ("gate", "w1"), ("up", "w3"), ("down", "w2") })
            {
                MapExperts((int)experts, m + "experts.", theirs + ".weight", b + $"ffn_{ours}_exps.weight");
                // Older files store each expert on its own: blk.i.ffn_gate.e.weight.
                for (int e = 0; e < experts; e++) Map($"{m}experts.{e}.{theirs}.weight", $"{b}ffn_{ours}.{e}.weight");
            }
        }
    }

    private void ReadQwen()
    {
        var (dim, layers, _, _, headDim) = Common();
        bool moe = _arch is "qwen2moe" or "qwen3moe";
        Set("model_type", _arch switch { "qwen2" => "qwen2", "qwen3" => "qwen3", "qwen2moe" => "qwen2_moe", _ => "qwen3_moe" });
        Set("hidden_act", "silu");
        Set("use_sliding_window", false);
        RopeScaling(headDim, llama3Allowed: false);
        int experts = 0;
        if (moe)
        {
            experts = (int)_meta.RequireInteger(Key("expert_count"));
            int expertFfn = Int("expert_feed_forward_length");
            Set("num_experts", experts);
            Set("num_experts_per_tok", _meta.RequireInteger(Key("expert_used_count")));
            Set("moe_intermediate_size", expertFfn);
            Set("intermediate_size", _meta.Integer(Key("feed_forward_length")) ?? expertFfn);
            Set("decoder_sparse_step", 1);
            Set("mlp_only_layers", new JsonArray());
            // llama.cpp fixes the choice per architecture: qwen3moe renormalises the top-k weights, qwen2moe does not.
            Set("norm_topk_prob", _arch == "qwen3moe");
            if (_arch == "qwen2moe") Set("shared_expert_intermediate_size", Int("expert_shared_feed_forward_length"));
        }
        else
        {
            Set("intermediate_size", Int("feed_forward_length"));
        }
        MapEnds();
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            Map(p + "input_layernorm.weight", b + "attn_norm.weight");
            MapAttention(p, b);
            Map(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
            if (!moe)
            {
                MapMlp(p, b);
                continue;
            }
            string m = p + "mlp.";
            Map(m + "gate.weight", b + "ffn_gate_inp.weight");
            foreach (var x in new[] { "gate", "up", "down" })
            {
                MapExperts(experts, m + "experts.", $"{x}_proj.weight", b + $"ffn_{x}_exps.weight");
                MapLinear($"{m}shared_expert.{x}_proj", $"{b}ffn_{x}_shexp");
            }
            // The shared expert's gate is [1, D] in the checkpoint and [D] in the file.
            if (_file.Tensors.TryGetValue(b + "ffn_gate_inp_shexp.weight", out var sg))
                _views[m + "shared_expert_gate.weight"] = new GgufTensorView(sg, [1, sg.Dimensions[0]]);
        }
    }

    private void ReadGemma()
    {
        var (dim, layers, heads, _, headDim) = Common();
        Set("model_type", _arch == "gemma2" ? "gemma2" : "gemma3_text");
        Set("intermediate_size", Int("feed_forward_length"));
        Set(_arch == "gemma2" ? "hidden_act" : "hidden_activation", "gelu_pytorch_tanh");
        RopeScaling(headDim, llama3Allowed: false);
        // llama.cpp scales q by 1/sqrt(head_dim), or 1/sqrt(hidden / heads) at the 27B layer counts (its model types).
        bool big = layers == (_arch == "gemma2" ? 46 : 62);
        Set("query_pre_attn_scalar", big ? dim / heads : headDim);
        int window = (int)(_meta.Integer(Key("attention.sliding_window")) ?? 0);
        Set("sliding_window", window);
        // llama.cpp: layer i is global iff (i + 1) % period == 0; its defaults are 2 (Gemma 2) and 6 (Gemma 3).
        long period = _meta.Integer(Key("attention.sliding_window_pattern")) ?? (_arch == "gemma2" ? 2 : 6);
        if (period <= 0) throw new CheckpointException($"{_file.Path}: \"{Key("attention.sliding_window_pattern")}\" is {period}; it must be positive.");
        var types = new JsonArray();
        for (int i = 0; i < layers; i++) types.Add(window > 0 && (i + 1) % period != 0 ? "sliding_attention" : "full_attention");
        Set("layer_types", types);
        if (_arch == "gemma2")
        {
            Set("attn_logit_softcapping", _meta.Real(Key("attn_logit_softcapping")) ?? 50.0);
            Set("final_logit_softcapping", _meta.Real(Key("final_logit_softcapping")) ?? 30.0);
        }
        else
        {
            Set("final_logit_softcapping", _meta.Real(Key("final_logit_softcapping")));
            Set("rope_local_base_freq", _meta.Real(Key("rope.freq_base_swa")) ?? 10000.0);
        }
        // Gemma's norms multiply by 1 + w; the file stores the factor 1 + w itself.
        const float lessOne = -1;
        MapEnds(normOffset: lessOne);
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            Map(p + "input_layernorm.weight", b + "attn_norm.weight", valueOffset: lessOne);
            MapAttention(p, b, normOffset: lessOne);
            Map(p + "post_attention_layernorm.weight", b + "post_attention_norm.weight", valueOffset: lessOne);
            Map(p + "pre_feedforward_layernorm.weight", b + "ffn_norm.weight", valueOffset: lessOne);
            Map(p + "post_feedforward_layernorm.weight", b + "post_ffw_norm.weight", valueOffset: lessOne);
            MapMlp(p, b);
        }
    }

    private void ReadPhi3()
    {
        var (_, layers, _, _, headDim) = Common();
        Set("model_type", "phi3");
        Set("intermediate_size", Int("feed_forward_length"));
        Set("hidden_act", "silu");
        RopeScaling(headDim, llama3Allowed: false);
        if (_file.Tensors.ContainsKey("rope_factors_long.weight") || _file.Tensors.ContainsKey("rope_factors_short.weight"))
            throw new CheckpointException($"{_file.Path}: this Phi-3 file has longrope factors (rope_factors_long/short), which Tessera does not implement.");
        // llama.cpp attends to the whole context for phi3 whatever sliding_window says.
        Set("sliding_window", 0);
        MapEnds();
        for (int i = 0; i < layers; i++)
        {
            string p = $"model.layers.{i}.", b = $"blk.{i}.";
            Map(p + "input_layernorm.weight", b + "attn_norm.weight");
            MapLinear(p + "self_attn.qkv_proj", b + "attn_qkv");
            MapLinear(p + "self_attn.o_proj", b + "attn_output");
            Map(p + "post_attention_layernorm.weight", b + "ffn_norm.weight");
            MapLinear(p + "mlp.gate_up_proj", b + "ffn_up");
            MapLinear(p + "mlp.down_proj", b + "ffn_down");
        }
    }

    private void ReadGpt2()
    {
        int dim = Int("embedding_length"), layers = Int("block_count");
        Set("model_type", "gpt2");
        Set("n_embd", dim);
        Set("n_layer", layers);
        Set("n_head", Int("attention.head_count"));
        Set("n_positions", Int("context_length"));
        Set("n_inner", Int("feed_forward_length"));
        Set("vocab_size", Vocab());
        Set("layer_norm_epsilon", _meta.RequireReal(Key("attention.layer_norm_epsilon")));
        Set("activation_function", "gelu_new");
        Map("wte.weight", "token_embd.weight");
        Map("wpe.weight", "position_embd.weight");
        Map("ln_f.weight", "output_norm.weight");
        Map("ln_f.bias", "output_norm.bias");
        Map("lm_head.weight", "output.weight");
        for (int i = 0; i < layers; i++)
        {
            string p = $"h.{i}.", b = $"blk.{i}.";
            Map(p + "ln_1.weight", b + "attn_norm.weight");
            Map(p + "ln_1.bias", b + "attn_norm.bias");
            Map(p + "ln_2.weight", b + "ffn_norm.weight");
            Map(p + "ln_2.bias", b + "ffn_norm.bias");
            // GPT-2's Conv1D weights are [in, out]; the file holds them [out, in].
            foreach (var (hf, gguf) in new[] { ("attn.c_attn", "attn_qkv"), ("attn.c_proj", "attn_output"), ("mlp.c_fc", "ffn_up"), ("mlp.c_proj", "ffn_down") })
            {
                if (_file.Tensors.TryGetValue($"{b}{gguf}.weight", out var w))
                    _views[$"{p}{hf}.weight"] = new GgufTensorView(w, [w.Dimensions[0], w.Dimensions[1]], Transposed: true);
                Map($"{p}{hf}.bias", $"{b}{gguf}.bias");
            }
        }
    }
}
