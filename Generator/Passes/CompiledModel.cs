using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>A module's graph after the passes: its kernels and where their values live.</summary>
internal sealed record CompiledModule(ModuleInfo Module, IrGraph Graph, IReadOnlyList<Kernel> Kernels, BufferPlan Buffers, ShardingPlan Sharding)
{
    /// <summary>Kernels before the layers loop (the first pipeline stage's prologue: embeddings).</summary>
    public IEnumerable<Kernel> Prologue => Kernels.TakeWhile(k => k.Kind != KernelKind.Layers);

    /// <summary>The layers loop, if the module has one.</summary>
    public Kernel? LayersKernel => Kernels.FirstOrDefault(k => k.Kind == KernelKind.Layers);

    /// <summary>Kernels after the layers loop (the last stage's epilogue: final norm and head).</summary>
    public IEnumerable<Kernel> Epilogue => Kernels.SkipWhile(k => k.Kind != KernelKind.Layers).Skip(1);

    /// <summary>When a weight is used: the union of its nodes' predicates (a tied module's too); null when no node reads it.</summary>
    public Predicate? WhenUsed(WeightFieldInfo weight)
    {
        var nodes = Graph.Nodes.Where(n => n.Module?.Name == weight.Name || n.Module?.TiedTo == weight.Name).ToList();
        return nodes.Count == 0 ? null : nodes.Select(n => n.Predicate).Aggregate((a, b) => a.Or(b));
    }
}

/// <summary>
/// The pass pipeline for one model: graphs, shape inference, constraint checking against the bound sizes (when a
/// [Compile] unit gives them), fusion, buffer planning. The back ends only read the result.
/// </summary>
internal sealed class CompiledModel
{
    private CompiledModel(ModelInfo model, CompiledModule root, CompiledModule? block, CompiledModule? expert, IReadOnlyList<ShapeConstraint> runtimeChecks)
    {
        Model = model;
        Root = root;
        Block = block;
        Expert = expert;
        RuntimeChecks = runtimeChecks;
    }

    public ModelInfo Model { get; }

    public CompiledModule Root { get; }

    public CompiledModule? Block { get; }

    /// <summary>The expert of the block's [Experts] field (a mixture-of-experts model), compiled like a block.</summary>
    public CompiledModule? Expert { get; }

    /// <summary>The block's Mixture node, if the model has experts.</summary>
    public IrNode? Mixture => Block?.Graph.Nodes.FirstOrDefault(n => n.Kind == OpKind.Mixture);

    /// <summary>The block's [Experts] field.</summary>
    public ExpertsFieldInfo? ExpertsField => Mixture?.ExpertsField;

    /// <summary>Experts per token: k of the Route the Mixture reads.</summary>
    public SizeExpr? ExpertsPerToken => Mixture?.Inputs[1].Producer.Arguments[0];

    /// <summary>Conditions on sizes that only config.json can decide: checked when the generic engine loads.</summary>
    public IReadOnlyList<ShapeConstraint> RuntimeChecks { get; }

    /// <summary>The vocabulary size: rows of the token embedding.</summary>
    public SizeExpr Vocab => SizeExpr.Parse(Root.Graph.Nodes.First(n => n.Kind == OpKind.Embedding).Module!.Out!);

    /// <summary>The residual width: what flows between blocks.</summary>
    public SizeExpr Width => Block?.Graph.Input.Width ?? Root.Graph.Result.Width;

    /// <summary>The K/V width of one layer's cache (kvHeads * headDim), from the block's Attention.</summary>
    public SizeExpr? KvWidth => Block?.Graph.Nodes.FirstOrDefault(n => n.Kind == OpKind.Attention)?.Inputs[1].Width;

    /// <summary>The K/V width one tensor rank caches: its share of the key/value heads, or the one it replicates.</summary>
    public SizeExpr? LocalKvWidth => Block?.Graph.Nodes.FirstOrDefault(n => n.Kind == OpKind.Attention) is { } attention
        ? Block.Sharding.LocalWidth(attention.Inputs[1])
        : null;

    /// <summary>The key/value heads of the block's Attention, if it has one.</summary>
    public SizeExpr? KvHeads => Block?.Graph.Nodes.FirstOrDefault(n => n.Kind == OpKind.Attention)?.Arguments[1];

    /// <summary>The logit columns one tensor rank computes: the vocabulary, or its share of a vocab-parallel head (padded).</summary>
    public SizeExpr LocalVocab => Root.Sharding.LocalWidth(Root.Graph.Result);

    /// <summary>What the tensor degree must divide or be a multiple of (key/value heads, replicated past the degree).</summary>
    public IReadOnlyList<(SizeExpr Size, string What)> TensorReplicableSplits =>
        (Block?.Sharding.HeadReplication ?? new List<(SizeExpr Size, string What)>())
            .GroupBy(d => d.Size.ToString()).Select(g => (g.First().Size, string.Join(", ", g.Select(d => d.What).Distinct()))).ToList();

    /// <param name="sizes">the config's values for a specialised unit, or null for the shape-generic engine</param>
    /// <param name="configPath">for messages</param>
    public static CompiledModel Compile(ModelInfo model, IReadOnlyDictionary<string, double>? sizes, string? configPath, List<DiagnosticInfo> diagnostics)
    {
        var rootGraph = GraphBuilder.Build(model.Root, isModel: true, model);
        var blockGraph = model.Blocks.Length > 0 ? GraphBuilder.Build(model.Blocks[0], isModel: false, model) : null;
        var expertModule = model.Blocks.Length > 0 && model.Blocks[0] is { Experts: { } experts } ? model.Blocks.FirstOrDefault(b => b.TypeName == experts.BlockType) : null;
        var expertGraph = expertModule is null ? null : GraphBuilder.Build(expertModule, isModel: false, model);
        var constraints = ShapeInference.Run(rootGraph, blockGraph, expertGraph);

        var runtime = new List<ShapeConstraint>();
        foreach (var c in constraints)
        {
            if (c.IsTriviallyTrue) continue;
            if (sizes is null)
            {
                // An int [Config] field is bound positive, so "at least 1" of one holds once it is bound.
                if (c.Relation == Relation.AtLeast && c.Left is SizeExpr.Name && c.Right is SizeExpr.Number { Value: 1 }) continue;
                if (!runtime.Any(r => r.ToCSharp() == c.ToCSharp())) runtime.Add(c);
                continue;
            }
            double? left = c.Left.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null);
            double? right = c.Right.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null);
            bool holds = left is not null && right is not null && c.Holds(left.Value, right.Value);
            if (holds) continue;
            if (c.IsTopKBound)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TopKOutOfRange, c.Location, c.Left.ToString(), Format(left),
                    c.Relation == Relation.AtLeast ? "1" : $"{c.Right} = {Format(right)}", configPath ?? ""));
            else
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ShapeMismatch, c.Location, c.Subject,
                    $"{c.Expected} = {Format(right)}", $"width {c.Left} = {Format(left)}", configPath ?? ""));
        }

        var slotNames = new HashSet<string>();
        var root = Plan(rootGraph, isModel: true, "_model", "tokens", null, slotNames);
        var block = blockGraph is null ? null : Plan(blockGraph, isModel: false, "_block", "input", "output", slotNames);
        var expert = expertGraph is null ? null : Plan(expertGraph, isModel: false, "_expert", "input", "output", slotNames);
        return new CompiledModel(model, root with { Module = model.Root }, block is null ? null : block with { Module = model.Blocks[0] },
            expert is null ? null : expert with { Module = expertModule! }, runtime);
    }

    private static CompiledModule Plan(IrGraph graph, bool isModel, string prefix, string input, string? result, ISet<string> slotNames)
    {
        Predication.Run(graph);
        var sharding = ShardingPlan.Run(graph, isModel);
        var kernels = SiblingProducts.Group(Fusion.Run(graph, isModel, sharding), sharding);
        return new CompiledModule(null!, graph, kernels, BufferPlan.Run(graph, kernels, prefix, input, result, slotNames), sharding);
    }

    /// <summary>Everything the tensor degree must divide, once per size, with who needs it.</summary>
    public IReadOnlyList<(SizeExpr Size, string What)> TensorSplits =>
        Root.Sharding.Divisibility.Concat(Block?.Sharding.Divisibility ?? Enumerable.Empty<(SizeExpr Size, string What)>())
            .Concat(Expert?.Sharding.Divisibility ?? Enumerable.Empty<(SizeExpr Size, string What)>())
            .GroupBy(d => d.Size.ToString()).Select(g => (g.First().Size, string.Join(", ", g.Select(d => d.What).Distinct()))).ToList();

    /// <summary>Why tensor parallelism cannot run this model as annotated (a split value read whole mid-graph), or null.</summary>
    public string? TensorParallelLimitation =>
        Root.Sharding.GatherBefore.Where(v => v != Root.Graph.Result).Concat(Block?.Sharding.GatherBefore.Where(v => v != Block.Graph.Result) ?? Enumerable.Empty<IrValue>())
            .Concat(Expert?.Sharding.GatherBefore.Where(v => v != Expert.Graph.Result) ?? Enumerable.Empty<IrValue>())
            .Select(v => $"'{v.Name}' is split across the tensor group but read whole").FirstOrDefault();

    private static string Format(double? v) => v is null ? "?" : v.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
