using Tessera.Generator.Diagnostics;
using System.Linq;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.FrontEnd;

/// <summary>The type of a [Config] field (of each layer's value, for a per-layer field).</summary>
internal enum ConfigKind { Int, Float, Bool, RopeScaling }

/// <summary>A module type of the vocabulary.</summary>
internal enum ModuleKind { Embedding, PositionEmbedding, Linear, RmsNorm, LayerNorm }

/// <summary>How a weight is split under tensor parallelism.</summary>
internal enum Sharding { Unspecified, Replicated, ColumnParallel, RowParallel }

/// <summary>A [Config] field.</summary>
/// <param name="Name">the field name, used as the size's name in expressions and generated code</param>
/// <param name="Keys">the config.json keys, '|'-separated alternatives</param>
/// <param name="Kind">int, float or bool</param>
/// <param name="Default">a literal or expression used when no key is present (per layer: may name <c>Layer</c>)</param>
/// <param name="Location">the field's declaration</param>
/// <param name="Positive">a number that must be above 0 (an int size always is)</param>
/// <param name="NonNegative">a number that must be 0 or more (an int that is not a size: a window)</param>
/// <param name="PerLayer">an array: one value per layer, read in a block as Name[Layer]</param>
/// <param name="Map">a per-layer field read from strings: "text=value|text=value"</param>
/// <param name="Indices">a per-layer bool read from a list of layer indices</param>
/// <param name="WhenNull">the value when the key is present and null, where that differs from <paramref name="Default"/></param>
internal sealed record ConfigFieldInfo(string Name, string Keys, ConfigKind Kind, string? Default, LocationInfo? Location, bool Positive = false,
    bool NonNegative = false, bool PerLayer = false, string? Map = null, bool Indices = false, string? WhenNull = null)
{
    /// <summary>An int field that sizes something (it must be positive); a non-negative int (a window) is not.</summary>
    public bool IsSize => Kind == ConfigKind.Int && !PerLayer && !NonNegative;
}

/// <summary>A module field bound to checkpoint tensors by [Weight].</summary>
/// <param name="Name">field name</param>
/// <param name="Kind">module type</param>
/// <param name="TensorPrefix">the tensor name prefix, relative to the block ("self_attn.q_proj")</param>
/// <param name="Out">output features (Linear) or rows (embeddings): a size expression</param>
/// <param name="In">input features / width: a size expression</param>
/// <param name="Bias">whether "{prefix}.bias" is loaded</param>
/// <param name="Transposed">true for the [in, out] (Conv1D) layout</param>
/// <param name="Epsilon">config field holding a norm's epsilon</param>
/// <param name="TiedTo">the module whose tensor this one may reuse</param>
/// <param name="TiedWhen">bool config field saying whether it does (null: always)</param>
/// <param name="Sharding">tensor-parallel annotation</param>
/// <param name="Location">the declaration</param>
/// <param name="PerHead">a norm applied to each In-wide group (head) of a wider input</param>
/// <param name="Offset">a norm's scale offset: it scales by Offset + w (Gemma: 1), as C# float text; null for none</param>
/// <param name="FusedOut">for a part of a fused tensor: the stored tensor's rows (a size expression)</param>
/// <param name="FusedOffset">for a part of a fused tensor: its first row (a size expression)</param>
internal sealed record WeightFieldInfo(
    string Name, ModuleKind Kind, string TensorPrefix, string? Out, string? In, bool Bias, bool Transposed,
    string? Epsilon, string? TiedTo, string? TiedWhen, Sharding Sharding, LocationInfo? Location,
    bool PerHead = false, string? Offset = null, string? FusedOut = null, string? FusedOffset = null);

/// <summary>A [Layers] field: an array of blocks.</summary>
/// <param name="Name">field name</param>
/// <param name="BlockType">the nested block type's name</param>
/// <param name="Prefix">tensor prefix of layer i is "{Prefix}.{i}."</param>
/// <param name="Count">config field holding the layer count</param>
/// <param name="Location">the declaration</param>
internal sealed record LayersFieldInfo(string Name, string BlockType, string Prefix, string Count, LocationInfo? Location);

/// <summary>An [Experts] field: the experts of a mixture-of-experts layer, an array of an expert block type.</summary>
/// <param name="Name">field name</param>
/// <param name="BlockType">the expert block type's name</param>
/// <param name="Prefix">tensor prefix of expert e, relative to the block: "{Prefix}.{e}."</param>
/// <param name="Count">config field holding the number of experts</param>
/// <param name="Location">the declaration</param>
internal sealed record ExpertsFieldInfo(string Name, string BlockType, string Prefix, string Count, LocationInfo? Location);

/// <summary>What a step of a Forward body does.</summary>
internal enum StepKind
{
    /// <summary>A Tensor parameter (the model's token ids, or a block's input).</summary>
    Parameter,

    /// <summary>A call of a module field; Target = the field.</summary>
    Module,

    /// <summary>A call of Tessera.Ops; Target = the op's name; Args = its size arguments.</summary>
    Op,

    /// <summary>Element-wise a + b.</summary>
    Add,

    /// <summary>Element-wise a * b.</summary>
    Mul,

    /// <summary>The layers loop: Target = the [Layers] field; input = the value carried through the blocks.</summary>
    Layers,

    /// <summary>Ops.Mixture(experts, x, routing): Target = the [Experts] field; inputs = x and the routing.</summary>
    Mixture,

    /// <summary>condition ? a : b over tensors: inputs = a and b; Args = the condition (a scalar expression, often per layer).</summary>
    Select,
}

/// <summary>One step of a Forward body, in SSA form: every step defines value <see cref="Id"/>.</summary>
/// <param name="Id">the value this step defines</param>
/// <param name="Kind">what it does</param>
/// <param name="Target">module field, op name or layers field</param>
/// <param name="Inputs">ids of the tensor operands</param>
/// <param name="Args">size arguments as expressions over config fields (ops only)</param>
/// <param name="Name">a readable name: the local it was assigned to, or one made from the op</param>
/// <param name="Source">the source text of the expression, quoted in generated comments</param>
/// <param name="Location">the expression, for diagnostics</param>
internal sealed record ForwardStep(
    int Id, StepKind Kind, string Target, EquatableArray<int> Inputs, EquatableArray<string> Args, string Name, string Source, LocationInfo? Location);

/// <summary>A Forward body lowered to steps. <see cref="Result"/> is the id returned.</summary>
internal sealed record ForwardProgram(EquatableArray<ForwardStep> Steps, int Result);

/// <summary>A module type: the model class itself or a nested block.</summary>
/// <param name="TypeName">the C# type name</param>
/// <param name="Weights">its module fields in declaration order</param>
/// <param name="Layers">its [Layers] field, if any</param>
/// <param name="Forward">its lowered Forward body</param>
/// <param name="Experts">its [Experts] field, if any</param>
internal sealed record ModuleInfo(string TypeName, EquatableArray<WeightFieldInfo> Weights, LayersFieldInfo? Layers, ForwardProgram Forward, ExpertsFieldInfo? Experts = null);

/// <summary>Where the model class is declared.</summary>
/// <param name="Namespace">containing namespace ("" for the global namespace)</param>
/// <param name="Name">class name</param>
/// <param name="Accessibility">"public" or "internal"</param>
internal sealed record TypeLocationInfo(string Namespace, string Name, string Accessibility)
{
    public string FullyQualifiedName => Namespace.Length == 0 ? "global::" + Name : "global::" + Namespace + "." + Name;

    public string MetadataName => Namespace.Length == 0 ? Name : Namespace + "." + Name;
}

/// <summary>Everything the generator knows about a [Model] class after the front end.</summary>
/// <param name="Type">where it is declared</param>
/// <param name="ModelType">the Hugging Face model_type it implements</param>
/// <param name="ContextField">config field holding the context length</param>
/// <param name="Config">its [Config] fields</param>
/// <param name="Root">the model's own module</param>
/// <param name="Blocks">nested blocks: the one of the [Layers] field first, then the experts of its [Experts] field, if any</param>
/// <param name="Unsupported">config keys the model refuses when set</param>
/// <param name="Expects">"key:value,value" strings: the only values of a string key the model implements</param>
internal sealed record ModelInfo(
    TypeLocationInfo Type, string? ModelType, string ContextField, EquatableArray<ConfigFieldInfo> Config, ModuleInfo Root, EquatableArray<ModuleInfo> Blocks,
    EquatableArray<string> Unsupported, EquatableArray<string> Expects);

/// <summary>The outcome of reading a [Model]: the model (null when it cannot be compiled) and what went wrong.</summary>
internal sealed record ModelResult(string MetadataName, ModelInfo? Model, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>A [Compile] unit before its config is read.</summary>
/// <param name="Type">the unit's class</param>
/// <param name="ModelMetadataName">the [Model] it compiles</param>
/// <param name="ConfigPath">the config path as written</param>
/// <param name="Plan">the parallel plan degrees</param>
/// <param name="ConfigLocation">the Config argument, for diagnostics about the file</param>
/// <param name="ModelLocation">the typeof argument</param>
/// <param name="Diagnostics">problems found on the attribute itself</param>
internal sealed record CompileUnitInfo(
    TypeLocationInfo Type, string ModelMetadataName, string? ConfigPath, PlanInfo Plan,
    LocationInfo? ConfigLocation, LocationInfo? ModelLocation, EquatableArray<DiagnosticInfo> Diagnostics);

/// <summary>Parallel plan degrees of a [Compile] unit, with where each was written (for diagnostics).</summary>
/// <param name="Data">data-parallel replicas</param>
/// <param name="Pipeline">pipeline stages</param>
/// <param name="Tensor">tensor-parallel degree</param>
/// <param name="MicroBatches">micro-batches</param>
/// <param name="LayersPerStage">a hand-given split ("3,1"), or null</param>
/// <param name="DeviceMemory">a device memory budget ("80GB"), or null</param>
/// <param name="Locations">the named arguments' locations</param>
/// <param name="Expert">expert-parallel degree</param>
/// <param name="Sequence">sequence-parallel degree</param>
internal sealed record PlanInfo(int Data, int Pipeline, int Tensor, int MicroBatches, string? LayersPerStage, string? DeviceMemory, EquatableArray<ArgumentLocation> Locations,
    int Expert = 1, int Sequence = 1)
{
    public bool IsSingleDevice => Data == 1 && Pipeline == 1 && Tensor == 1 && Expert == 1 && Sequence == 1;

    public LocationInfo? LocationOf(string argument) => Locations.FirstOrDefault(l => l.Name == argument)?.Location;
}

/// <summary>Where a named attribute argument was written.</summary>
internal sealed record ArgumentLocation(string Name, LocationInfo? Location);

/// <summary>An AdditionalFiles config.json: its path and text.</summary>
internal sealed record ConfigFileInfo(string Path, string Text);
