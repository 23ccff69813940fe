namespace Tessera;

/// <summary>
/// Marks a partial class as a transformer definition. The Tessera generator reads its fields and its
/// <c>Forward</c> bodies and emits an engine for it; the bodies are never executed as written.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ModelAttribute : Attribute
{
    /// <summary>The Hugging Face <c>model_type</c> this definition implements (e.g. "llama"); used by the command line to pick an engine.</summary>
    public string? ModelType { get; set; }

    /// <summary>The [Config] field holding the context length (the KV cache's capacity). Defaults to "ContextLength".</summary>
    public string ContextLength { get; set; } = "ContextLength";

    /// <summary>
    /// Config keys this definition does not implement, '|'-separated (e.g. "rope_scaling"): a checkpoint whose config
    /// sets one (to anything but null or false) is refused when it loads, instead of running with different maths.
    /// </summary>
    public string? Unsupported { get; set; }

    /// <summary>
    /// String config values this definition implements, as "key:value,value;key:value" (e.g. "hidden_act:silu"): a
    /// checkpoint that sets the key to another value is refused when it loads. An absent key is accepted.
    /// </summary>
    public string? Expects { get; set; }
}

/// <summary>
/// Binds a field to a value of the checkpoint's <c>config.json</c>. Sizes used in <see cref="WeightAttribute"/> shapes and
/// op arguments name these fields. A field is an int, a float, a bool, a <see cref="RopeScaling"/> (the config's
/// rope_scaling object), or an array of int, float or bool: a per-layer value, one per layer, which a block's Forward
/// reads as <c>Field[Layer]</c> (<see cref="Ops.Layer"/>).
/// </summary>
/// <param name="key">
/// The JSON key. Several keys may be given separated by '|': the first present (and not null) wins. A key may name a
/// member of a nested object ("rope_parameters.rope_theta").
/// </param>
[AttributeUsage(AttributeTargets.Field)]
public sealed class ConfigAttribute(string key) : Attribute
{
    public string Key { get; } = key;

    /// <summary>
    /// A value used when the key is absent or null: a literal, or an expression over other config fields ("4 * Dim"); for
    /// a per-layer field, an expression of <c>Layer</c> too ("(Layer + 1) % 2 != 0").
    /// </summary>
    public string? Default { get; set; }

    /// <summary>
    /// A value used when the key is present and null, where that differs from leaving it out (Mistral's sliding_window:
    /// absent is 4096, as its config class says, null is no window): a literal or expression like <see cref="Default"/>.
    /// </summary>
    public string? WhenNull { get; set; }

    /// <summary>
    /// A number that must be greater than zero (a norm's epsilon, RoPE's base): a config that sets it to zero or less
    /// is refused when the engine loads, instead of running into NaN logits. Sizes (int fields) are always checked so.
    /// </summary>
    public bool Positive { get; set; }

    /// <summary>
    /// A number that must be 0 or more (a sliding window, a soft-cap, where 0 means none): a config that sets it below
    /// zero is refused when the engine loads. An int field with this set is not a size, so 0 is allowed.
    /// </summary>
    public bool NonNegative { get; set; }

    /// <summary>
    /// A per-layer field read from a list of strings: each entry's value, as "text=value|text=value"
    /// ("sliding_attention=true|full_attention=false"). Any other string is refused when the engine loads.
    /// </summary>
    public string? Map { get; set; }

    /// <summary>A per-layer bool field read from a list of layer indices (mlp_only_layers): true at the layers it lists.</summary>
    public bool Indices { get; set; }
}

/// <summary>How a matrix weight is laid out in the checkpoint.</summary>
public enum WeightLayout
{
    /// <summary>[out, in], as torch.nn.Linear stores it (y = x Wᵀ).</summary>
    OutIn,

    /// <summary>[in, out], as GPT-2's Conv1D stores it (y = x W). Transposed once on load.</summary>
    InOut,
}

/// <summary>
/// Binds a module field (<see cref="Linear"/>, <see cref="RmsNorm"/>, ...) to checkpoint tensors. The name is the module's prefix:
/// "self_attn.q_proj" loads "self_attn.q_proj.weight" (and ".bias" when <see cref="Bias"/> is set).
/// </summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class WeightAttribute(string name) : Attribute
{
    public string Name { get; } = name;

    /// <summary>Output features of a Linear, or rows of an Embedding: an expression over config fields ("Heads * HeadDim").</summary>
    public string? Out { get; set; }

    /// <summary>Input features of a Linear, or width of an Embedding or norm.</summary>
    public string? In { get; set; }

    /// <summary>Whether the module has a bias tensor ("{name}.bias").</summary>
    public bool Bias { get; set; }

    /// <summary>The checkpoint layout of a matrix weight.</summary>
    public WeightLayout Layout { get; set; } = WeightLayout.OutIn;

    /// <summary>For norms: the config field holding epsilon.</summary>
    public string? Epsilon { get; set; }

    /// <summary>The module whose tensor this one reuses when <see cref="TiedWhen"/> is true (or when this tensor is absent), e.g. a head tied to the embedding.</summary>
    public string? TiedTo { get; set; }

    /// <summary>The bool config field that says whether the weights are tied.</summary>
    public string? TiedWhen { get; set; }

    /// <summary>
    /// For a norm narrower than its input: normalise each head-sized group of the input on its own (a per-head q_norm /
    /// k_norm, In = the head dimension, applied to (T, heads * d)).
    /// </summary>
    public bool PerHead { get; set; }

    /// <summary>For norms: the scale is Offset + w (Gemma stores w with the 1 taken out: its norms scale by 1 + w).</summary>
    public float Offset { get; set; }

    /// <summary>
    /// For a Linear that is part of a fused tensor (Phi-3's qkv_proj, gate_up_proj): the stored tensor's output rows,
    /// of which this module's <see cref="Out"/> rows start at <see cref="FusedOffset"/>. The part is split off on load,
    /// so the module shards like any other.
    /// </summary>
    public string? FusedOut { get; set; }

    /// <summary>The first row of this module's part of the fused tensor (see <see cref="FusedOut"/>).</summary>
    public string? FusedOffset { get; set; }
}

/// <summary>An array of blocks stored as "{prefix}.{i}.…"; the count comes from the config field named by <see cref="Count"/>.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class LayersAttribute(string prefix) : Attribute
{
    public string Prefix { get; } = prefix;

    public string Count { get; set; } = "LayerCount";
}

/// <summary>
/// The experts of a mixture-of-experts layer: an array of an expert block type stored as "{prefix}.{e}.…" (e.g.
/// "block_sparse_moe.experts" holds "block_sparse_moe.experts.3.w1.weight"); the count comes from the config field
/// named by <see cref="Count"/>. Under expert parallelism each expert rank holds Count / ep of them.
/// </summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class ExpertsAttribute(string prefix) : Attribute
{
    public string Prefix { get; } = prefix;

    public string Count { get; set; } = "ExpertCount";
}

/// <summary>Megatron column parallelism: the output features are split across the tensor-parallel group.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class ColumnParallelAttribute : Attribute;

/// <summary>Megatron row parallelism: the input features are split; partial outputs are all-reduced.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class RowParallelAttribute : Attribute;

/// <summary>The whole tensor is held by every rank of the tensor-parallel group.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class ReplicatedAttribute : Attribute;

/// <summary>
/// Asks for a specialised engine of <paramref name="model"/>: the generator reads <see cref="Config"/> at build time
/// (it must be an AdditionalFiles item) and folds every size into the emitted kernels as constants.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class CompileAttribute(Type model) : Attribute
{
    public Type Model { get; } = model;

    /// <summary>Path of the config.json, relative to the project (matched against AdditionalFiles by suffix).</summary>
    public string? Config { get; set; }

    public int Data { get; set; } = 1;
    public int Pipeline { get; set; } = 1;
    public int Tensor { get; set; } = 1;

    /// <summary>Expert-parallel degree: the experts of every mixture-of-experts layer split this many ways (it must divide them).</summary>
    public int Expert { get; set; } = 1;

    /// <summary>Sequence-parallel degree: each sequence's tokens split this many ways, attention exact across them.</summary>
    public int Sequence { get; set; } = 1;

    public int MicroBatches { get; set; } = 1;

    /// <summary>Layers per pipeline stage given by hand, e.g. "3,1" (one entry per stage, every layer once); by default the cost model balances them.</summary>
    public string? LayersPerStage { get; set; }

    /// <summary>Each device's memory ("80GB", "512MiB"): the plan's weights plus one full-context KV cache per device must fit.</summary>
    public string? DeviceMemory { get; set; }
}
