using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends.Cpu;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes an engine class: sizes, plan, weights, workspace, the constructors that load this rank's share of a
/// checkpoint, the stage program (receive or embed, the layers, send or head), one method per block, and the model's
/// facts for the planner. The same members serve the shape-generic engine (nested <c>Model.Engine</c>, plan degrees
/// bound at run time) and a specialised [Compile] unit (sizes and plan folded); only <see cref="SizeBinding"/> and
/// the stage bodies differ.
/// </summary>
internal static class EngineWriter
{
    public const string GeneratorName = "Tessera.Generator";

    public static string GeneratedCodeAttribute =>
        $"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{typeof(EngineWriter).Assembly.GetName().Version}\")]";

    /// <summary>The members of an engine class, in order: a table of contents of what an engine is.</summary>
    private static readonly List<IndentedTextWriter.Callback<EngineContext>> Members =
    [
        WriteSizes,
        WritePlan,
        WriteWeights,
        WriteWorkspace,
        WriteConstructors,
        WriteProperties,
        WriteStageProgram,
        WriteBlocks,
        WriteFacts,
        WriteGpu,
    ];

    /// <summary>What the member writers need.</summary>
    /// <param name="Compiled">the model after the passes</param>
    /// <param name="Sizes">generic or folded sizes</param>
    /// <param name="ClassName">the engine class</param>
    /// <param name="Description">the summary line</param>
    /// <param name="Plan">a specialised unit's folded plan, or null (degrees come from the rank context)</param>
    internal sealed record EngineContext(CompiledModel Compiled, SizeBinding Sizes, string ClassName, string Description, FoldedPlan? Plan = null);

    public static void WriteMembers(EngineContext context, IndentedTextWriter writer) =>
        writer.WriteSeparated(Members, member => member(context, writer));

    private static ModelInfo Model(EngineContext c) => c.Compiled.Model;

    /// <summary>The GPU back end's members.</summary>
    private static void WriteGpu(EngineContext context, IndentedTextWriter writer) => GpuEngineWriter.Write(context, writer);

    /// <summary>What an engine class implements: a transformer engine, a rank program, and what its model adds.</summary>
    public static string Interfaces(EngineContext context) =>
        string.Join(", ", new[] { "global::Tessera.ITransformerEngine", "global::Tessera.Parallelism.IRankProgram" }.Concat(ExpertsWriter.Interfaces(context)));

    private static void WriteSizes(EngineContext context, IndentedTextWriter writer) =>
        context.Sizes.WriteDeclarations(Model(context), writer);

    private static void WritePlan(EngineContext context, IndentedTextWriter writer)
    {
        writer.WriteLine("// Where this rank sits in its plan: its tensor shard and its block of layers.");
        writer.WriteLine("private readonly global::Tessera.Parallelism.RankContext _rank;");
        writer.WriteLine("/// <summary>The threads each kernel call may use: this rank's device's share of the cores.</summary>");
        writer.WriteLine("private readonly global::Tessera.Cpu.CpuExecution _cpu;");
        if (context.Plan is { } plan)
        {
            writer.WriteLine($"private const int TensorDegree = {plan.Tensor}; // folded: [Compile(Tensor = {plan.Tensor})]");
            writer.WriteLine($"private const int Stages = {plan.Pipeline}; // folded: [Compile(Pipeline = {plan.Pipeline})], layers per stage {string.Join(", ", plan.LayerSplit)}");
        }
        else
        {
            writer.WriteLine("private readonly int TensorDegree;");
        }
        writer.WriteLine("private readonly int TensorRank;");
        writer.WriteLine("private readonly int FirstLayer;");
        writer.WriteLine("private readonly int EndLayer;");
        if (ExpertsWriter.HasExperts(context)) ExpertsWriter.WritePlan(context, writer);
    }

    private static void WriteWeights(EngineContext context, IndentedTextWriter writer)
    {
        var model = Model(context);
        WeightsWriter.WriteClass(model.Root, writer);
        foreach (var block in model.Blocks)
        {
            writer.WriteLine();
            WeightsWriter.WriteClass(block, writer);
        }
        writer.WriteLine();
        writer.WriteLine($"private readonly {WeightsWriter.ClassName(model.Root)} _weights = new();");
        if (model.Root.Layers is { } layers)
            writer.WriteLine($"/// <summary>This stage's layers: index layer - FirstLayer.</summary>");
        if (model.Root.Layers is not null)
            writer.WriteLine($"private readonly {WeightsWriter.ClassName(model.Blocks[0])}[] _layers;");
        writer.WriteLine("private readonly long _weightBytes;");
    }

    private static void WriteWorkspace(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var slots = compiled.Root.Buffers.Slots.Select(s => (Slot: s, Module: compiled.Root))
            .Concat(compiled.Block?.Buffers.Slots.Select(s => (Slot: s, Module: compiled.Block)) ?? []).ToList();
        writer.WriteLine("// Activation buffers, (T, width) each, reused across values whose lifetimes do not overlap.");
        writer.WriteLine("// One forward at a time per engine: _gate serialises callers.");
        writer.WriteLine("private readonly object _gate = new();");
        writer.WriteLine("private int _workspaceRows;");
        foreach (var (slot, _) in slots)
            writer.WriteLine($"private float[] {slot.Name} = []; // {string.Join(", ", slot.Holds.Distinct())}");
        writer.WriteLine("private float[] _headRows = [];");
        writer.WriteLine("private float[] _localLogits = [];");
        writer.WriteLine();
        using (writer.WriteBlock("private void EnsureWorkspace(int rows)"))
        {
            writer.WriteLine("if (rows <= _workspaceRows) return;");
            foreach (var (slot, module) in slots)
                writer.WriteLine($"{slot.Name} = new float[rows * {MaxOf(LocalWidths(slot, module))}];");
            writer.WriteLine($"_headRows = new float[rows * ({compiled.Width})];");
            writer.WriteLine($"_localLogits = TensorDegree == 1 ? [] : new float[rows * ({compiled.LocalVocab})];");
            writer.WriteLine("_workspaceRows = rows;");
        }
        if (ExpertsWriter.HasExperts(context)) ExpertsWriter.WriteWorkspace(context, writer);
    }

    internal static List<string> LocalWidths(BufferSlot slot, CompiledModule module) =>
        module.Graph.Values.Where(v => slot.Holds.Contains(v.Name)).Select(v => module.Sharding.LocalWidth(v).ToString()).Distinct().ToList() is { Count: > 0 } widths
            ? widths
            : slot.Widths.Select(w => w.ToString()).ToList();

    internal static string MaxOf(List<string> widths) =>
        widths.Count == 1 ? $"({widths[0]})" : $"global::System.Math.Max({widths[0]}, {MaxOf(widths.Skip(1).ToList())})";

    /// <summary>The delegating whole-model constructor, then the one that loads a rank's share.</summary>
    private static void WriteConstructors(EngineContext context, IndentedTextWriter writer)
    {
        var model = Model(context);
        writer.WriteLine($"/// <summary>Loads a whole {model.Type.Name} checkpoint onto one device.</summary>");
        writer.WriteLine($"public {context.ClassName}(global::Tessera.Checkpoints.Checkpoint checkpoint)");
        writer.WriteLine("    : this(checkpoint, global::Tessera.Parallelism.RankContext.Single) { }");
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine($"/// Loads this rank's share of a {model.Type.Name} checkpoint, checking every tensor's name, shape and dtype. The");
        writer.WriteLine("/// options say how it holds its weights and how many threads its kernels use (default: F32, every core).");
        writer.WriteLine("/// </summary>");
        using (writer.WriteBlock($"public {context.ClassName}(global::Tessera.Checkpoints.Checkpoint checkpoint, global::Tessera.Parallelism.RankContext rank, global::Tessera.Cpu.CpuRankOptions? options = null)"))
        {
            writer.WriteLine("options ??= global::Tessera.Cpu.CpuRankOptions.Default;");
            WriteConfigChecks(context, writer);
            context.Sizes.WriteBinding(model, writer, declareLocals: false);
            if (!context.Sizes.IsSpecialised) DerivedSizeChecks.Write(model, writer);
            WriteRuntimeChecks(context, writer);
            writer.WriteLine();
            WriteRankBinding(context, writer);
            writer.WriteLine();
            WriteModelWeightLoads(context, writer);
            WriteLayerWeightLoads(context, writer);
            WriteWeightBytes(context, writer);
        }
    }

    /// <summary>
    /// The layer count sizes the per-layer arrays (and the experts' load table) before any layer's tensor is read, so
    /// the checkpoint must hold that many layers first: a num_hidden_layers of 2^31-1 is one error, not an allocation.
    /// </summary>
    private static void WriteLayerCountCheck(EngineContext context, IndentedTextWriter writer)
    {
        var model = Model(context);
        if (model.Root.Layers is not { } layers || context.Compiled.Block is not { } block || NumberedTensorSuffix(block) is not { } suffix) return;
        writer.WriteLine($"checkpoint.RequireNumbered(\"{ConfigKeyOf(model, layers.Count)}\", {layers.Count}, \"{layers.Prefix}.\", \"{suffix}\");");
    }

    /// <summary>The name of a module's first own tensor that every one of its instances has, after its number: ".input_layernorm.weight".</summary>
    internal static string? NumberedTensorSuffix(CompiledModule module) =>
        module.Module.Weights.FirstOrDefault(w => w.TiedTo is null && module.WhenUsed(w)?.IsAlways != false) is { } first
            ? $".{first.TensorPrefix}.weight"
            : null;

    /// <summary>The config key a size field is read from (its first one), for messages.</summary>
    internal static string ConfigKeyOf(ModelInfo model, string field) =>
        model.Config.FirstOrDefault(f => f.Name == field)?.Keys.Split('|')[0] ?? field;

    /// <summary>What the model cannot run (config keys it must not find set) and the values a key must take.</summary>
    private static void WriteConfigChecks(EngineContext context, IndentedTextWriter writer)
    {
        var model = Model(context);
        writer.WriteLine("var config = checkpoint.Config;");
        foreach (var key in model.Unsupported)
            writer.WriteLine($"config.RequireUnset(\"{key}\", \"{model.Type.Name}\");");
        foreach (var expect in model.Expects)
        {
            int colon = expect.IndexOf(':');
            var values = expect.Substring(colon + 1).Split(',').Select(v => "\"" + v.Trim() + "\"");
            writer.WriteLine($"config.RequireOneOf(\"{expect.Substring(0, colon)}\", [{string.Join(", ", values)}], \"{model.Type.Name}\");");
        }
    }

    /// <summary>
    /// The rank's place in its plan: a specialised unit checks the plan it was folded for, the shape-generic engine
    /// binds the degrees; then the plans the model cannot run.
    /// </summary>
    private static void WriteRankBinding(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        writer.WriteLine("_rank = rank;");
        writer.WriteLine("_cpu = options.Execution;");
        if (context.Plan is { } plan)
        {
            writer.WriteLine("if (rank.TensorDegree != TensorDegree || rank.Stages != Stages)");
            writer.IncreaseIndent();
            writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException($\"{context.ClassName} was compiled for tensor degree {{TensorDegree}} and {{Stages}} stage(s); this rank is in a plan with {{rank.TensorDegree}} and {{rank.Stages}}.\");");
            writer.DecreaseIndent();
            if (plan.Sequence > 1)
            {
                writer.WriteLine($"if (rank.SequenceDegree != {plan.Sequence}) // folded: [Compile(Sequence = {plan.Sequence})]");
                writer.IncreaseIndent();
                writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException($\"{context.ClassName} was compiled for sequence degree {plan.Sequence}; this rank is in a plan with {{rank.SequenceDegree}}.\");");
                writer.DecreaseIndent();
            }
        }
        else
        {
            writer.WriteLine("TensorDegree = rank.TensorDegree;");
        }
        writer.WriteLine("TensorRank = rank.TensorRank;");
        string layerCount = model.Root.Layers?.Count ?? "0";
        writer.WriteLine("FirstLayer = rank.FirstLayer;");
        writer.WriteLine($"EndLayer = rank.EndLayer < 0 ? {layerCount} : rank.EndLayer;");
        WriteLayerCountCheck(context, writer);
        if (ExpertsWriter.HasExperts(context)) ExpertsWriter.WriteRankBinding(context, writer);
        if (compiled.TensorParallelLimitation is { } limitation)
        {
            writer.WriteLine("if (TensorDegree > 1)");
            writer.IncreaseIndent();
            writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException(\"{model.Type.Name} cannot run tensor-parallel as annotated: {Escape(limitation)}.\");");
            writer.DecreaseIndent();
        }
        if (model.Root.Layers is null)
        {
            writer.WriteLine("if (rank.Stages > 1)");
            writer.IncreaseIndent();
            writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException(\"{model.Type.Name} has no [Layers] to split into pipeline stages.\");");
            writer.DecreaseIndent();
        }
    }

    /// <summary>The model's own weights: all of them, or (with layers) the first stage's, the last stage's and the shared.</summary>
    private static void WriteModelWeightLoads(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        var prologueWeights = WeightsOf(compiled.Root.Prologue);
        var epilogueWeights = WeightsOf(compiled.Root.Epilogue);
        var root = model.Root.Weights;
        var everywhere = root.Where(w => !prologueWeights.Contains(w.Name) && !epilogueWeights.Contains(w.Name)).ToList();
        void Load(IEnumerable<FrontEnd.WeightFieldInfo> weights) =>
            WeightsWriter.WriteLoad(model.Root, compiled.Root, weights, "_weights", "", context.Sizes.Constants, writer);
        if (compiled.Root.LayersKernel is null)
        {
            Load(root);
            return;
        }
        writer.WriteLine("// The first stage embeds; the last one holds the final norm and the head.");
        using (writer.WriteBlock("if (rank.IsFirstStage)"))
            Load(root.Where(w => prologueWeights.Contains(w.Name)));
        using (writer.WriteBlock("if (rank.IsLastStage)"))
            Load(root.Where(w => epilogueWeights.Contains(w.Name)));
        if (everywhere.Count > 0) Load(everywhere);
    }

    /// <summary>This stage's layers, each layer's weights (and held experts) under its checkpoint prefix.</summary>
    private static void WriteLayerWeightLoads(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        if (model.Root.Layers is not { } layers || compiled.Block is not { } block) return;
        writer.WriteLine($"_layers = new {WeightsWriter.ClassName(model.Blocks[0])}[EndLayer - FirstLayer];");
        using (writer.WriteBlock("for (int layer = FirstLayer; layer < EndLayer; layer++)"))
        {
            writer.WriteLine($"var w = _layers[layer - FirstLayer] = new {WeightsWriter.ClassName(model.Blocks[0])}();");
            WeightsWriter.WriteLoad(model.Blocks[0], block, model.Blocks[0].Weights, "w", $"{layers.Prefix}.{{layer}}.", context.Sizes.Constants, writer);
            if (ExpertsWriter.HasExperts(context)) ExpertsWriter.WriteLoad(context, $"{layers.Prefix}.{{layer}}.", writer);
        }
    }

    /// <summary>What this rank holds, each array once (a tied head shares its embedding's array).</summary>
    private static void WriteWeightBytes(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        string rootArrays = $"new object?[] {{ {string.Join(", ", WeightsWriter.Arrays(model.Root, "_weights"))} }}";
        string all = rootArrays;
        if (model.Root.Layers is not null && compiled.Block is not null)
        {
            string blockArrays = $"new object?[] {{ {string.Join(", ", WeightsWriter.Arrays(model.Blocks[0], "w"))} }}";
            if (ExpertsWriter.HasExperts(context))
                blockArrays = $"global::System.Linq.Enumerable.Concat({blockArrays}, {ExpertsWriter.Arrays(context, "w")})";
            all = $"global::System.Linq.Enumerable.Concat({rootArrays}, global::System.Linq.Enumerable.SelectMany(_layers, w => {blockArrays}))";
        }
        writer.WriteLine($"_weightBytes = global::Tessera.Cpu.WeightMatrix.BytesOf({all});");
    }

    private static HashSet<string> WeightsOf(IEnumerable<Kernel> kernels) =>
        new(kernels.SelectMany(k => k.Nodes).Select(n => n.Module?.Name).OfType<string>());

    private static void WriteRuntimeChecks(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        if (context.Sizes.IsSpecialised || compiled.RuntimeChecks.Count == 0) return;
        writer.WriteLine();
        writer.WriteLine("// Shape conditions that only the config can decide (a specialised unit checks them at build time).");
        foreach (var check in compiled.RuntimeChecks)
        {
            writer.WriteLine($"if (!({check.ToCSharp()}))");
            writer.IncreaseIndent();
            if (check.IsTopKBound)
                writer.WriteLine($"throw new global::Tessera.Checkpoints.CheckpointException($\"{{config.Path}}: {compiled.Model.Type.Name} routes each token to {Escape(check.Left.ToString())} = {{{check.Left}}} experts, but top-k routing needs at least 1 and at most the layer's {compiled.ExpertsField!.Count} = {{{compiled.ExpertsField.Count}}}.\");");
            else
                writer.WriteLine($"throw new global::Tessera.Checkpoints.CheckpointException($\"{{config.Path}}: the sizes do not fit {compiled.Model.Type.Name}: {Escape(check.Subject)} expects {Escape(check.Expected)} = {{{check.Right}}} but is given {Escape(check.Left.ToString())} = {{{check.Left}}}.\");");
            writer.DecreaseIndent();
        }
    }

    private static void WriteProperties(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        string layers = model.Root.Layers?.Count ?? "0";
        string kvWidth = compiled.KvWidth?.ToString() ?? "1";
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine($"public global::Tessera.ModelShape Shape => new(\"{model.Type.Name}\", {compiled.Vocab}, {model.ContextField}, {layers}, {compiled.Width}, {kvWidth});");
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public long WeightBytes => _weightBytes;");
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public long WorkspaceBytes => 4L * (" + string.Join(" + ", compiled.Root.Buffers.Slots.Concat(compiled.Block?.Buffers.Slots ?? []).Concat(compiled.Expert?.Buffers.Slots ?? []).Select(s => s.Name + ".Length").Append("_headRows.Length").Append("_localLogits.Length")) + ");");
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("global::Tessera.Parallelism.RankContext global::Tessera.Parallelism.IRankProgram.Context => _rank;");
        writer.WriteLine();
        string localKv = compiled.LocalKvWidth?.ToString() ?? "1";
        writer.WriteLine("/// <summary>A cache for one sequence: this stage's layers, this rank's key/value heads (and, under sequence parallelism, its tokens).</summary>");
        writer.WriteLine($"public global::Tessera.KvCache CreateCache() => global::Tessera.KvCache.Create(EndLayer - FirstLayer, {model.ContextField}, {localKv}, FirstLayer, _rank.SequenceDegree);");
        writer.WriteLine();
        writer.WriteLine("/// <summary>The whole forward on one device (a plan of one rank).</summary>");
        writer.WriteLine("public float[] Forward(global::Tessera.TokenBatch batch) =>");
        writer.IncreaseIndent();
        writer.WriteLine("_rank.IsWholeModel ? RunStage(batch)! : throw new global::System.InvalidOperationException(\"This engine is one rank of a parallel plan: run it through a ParallelEngine.\");");
        writer.DecreaseIndent();
        if (ExpertsWriter.HasExperts(context)) ExpertsWriter.WriteProperties(writer);
    }

    private static void WriteStageProgram(EngineContext context, IndentedTextWriter writer) =>
        StageProgramWriter.WriteRunStage(context, Backends.Cpu.CpuStageDevice.Instance, writer);

    private static void WriteBlocks(EngineContext context, IndentedTextWriter writer) =>
        StageProgramWriter.WriteModuleMethods(context, Backends.Cpu.CpuStageDevice.Instance, writer);

    private static void WriteFacts(EngineContext context, IndentedTextWriter writer) => FactsWriter.Write(context, writer);

    internal static string Escape(string text) => text.Replace("\"", "\\\"").Replace("{", "{{").Replace("}", "}}");
}

/// <summary>A specialised unit's plan, with its layer split decided at build time.</summary>
/// <param name="Data">data-parallel degree</param>
/// <param name="Pipeline">stages</param>
/// <param name="Tensor">tensor-parallel degree</param>
/// <param name="MicroBatches">micro-batches per forward</param>
/// <param name="LayerSplit">layers per stage</param>
/// <param name="Expert">expert-parallel degree</param>
/// <param name="Sequence">sequence-parallel degree</param>
internal sealed record FoldedPlan(int Data, int Pipeline, int Tensor, int MicroBatches, int[] LayerSplit, int Expert = 1, int Sequence = 1)
{
    public int DeviceCount => Data * Pipeline * Sequence * Expert * Tensor;
}
