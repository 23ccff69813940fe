using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>How a value is laid out across the ranks of a tensor-parallel group.</summary>
internal enum ShardKind
{
    /// <summary>Every rank holds the whole (T, width).</summary>
    Replicated,

    /// <summary>The feature axis is split: rank r holds (T, width / degree). With <see cref="ShardState.Groups"/> g, each of g equal parts is split on its own (GPT-2's c_attn: q | k | v).</summary>
    Split,
}

/// <summary>A value's sharding.</summary>
/// <param name="Kind">replicated or split</param>
/// <param name="Groups">equal parts of the feature axis, each split separately</param>
/// <param name="Heads">
/// when the feature axis is this many attention heads split by whole heads, with replication allowed: each rank holds
/// ceil(Heads / degree) heads — its share when the degree divides them, else (a degree that is a multiple of them) the
/// one head its query heads read, as vLLM replicates key/value heads past the tensor degree
/// </param>
/// <param name="Padded">
/// when the split may be uneven: each rank holds ceil(width / degree) features, those past the width zero (a
/// vocab-parallel head whose vocabulary the degree does not divide; the padding is dropped when gathered)
/// </param>
internal sealed record ShardState(ShardKind Kind, int Groups = 1, SizeExpr? Heads = null, bool Padded = false)
{
    public static ShardState Replicated { get; } = new(ShardKind.Replicated);

    public bool IsSplit => Kind == ShardKind.Split;
}

/// <summary>How a module's weight is sliced on each rank.</summary>
internal enum WeightSlice
{
    Whole,
    /// <summary>Output features split evenly (column parallelism).</summary>
    Rows,
    /// <summary>Input features split evenly (row parallelism).</summary>
    Columns,
    /// <summary>Output features by whole heads, replicated past the degree (<see cref="ShardState.Heads"/>).</summary>
    HeadRows,
    /// <summary>Output features split in ceil(out / degree) rows, zero-padded (<see cref="ShardState.Padded"/>).</summary>
    PaddedRows,
}

/// <summary>
/// Sharding propagation (Megatron-style) over one graph, from the [ColumnParallel] / [RowParallel] / [Replicated]
/// annotations: a column-parallel Linear splits its output features; element-wise ops, RoPE and attention keep a
/// split (heads are split with the features); a row-parallel Linear consumes a split and leaves partial sums, which an
/// all-reduce turns back into a replicated value; anything that needs whole rows (norms, the residual stream, the
/// result) all-gathers a split first. The pass records every decision the back ends need: each value's layout, each
/// weight's slice, and where the collectives go. It is general over the feature axis and both collectives; it knows
/// of attention only that its key and value inputs are split by whole heads (which may be replicated past the degree,
/// so grouped- and multi-query models split at any degree their query heads allow), and of the model's result only
/// that a product computing it may be split unevenly (a vocabulary the degree does not divide: padded, then dropped).
/// </summary>
internal sealed class ShardingPlan
{
    private readonly Dictionary<IrValue, ShardState> _values = new();
    private readonly Dictionary<IrNode, WeightSlice> _weights = new();
    private readonly Dictionary<IrNode, SizeExpr> _headSplitLinears = new(); // K/V products: split by these heads
    private IrValue? _paddableResult;

    /// <summary>Row-parallel products: their output is all-reduced before any element-wise work reads it.</summary>
    public HashSet<IrNode> AllReduceAfter { get; } = new();

    /// <summary>Split values that must be all-gathered before a node reads them (or before they leave as the result).</summary>
    public HashSet<IrValue> GatherBefore { get; } = new();

    /// <summary>What the tensor degree must divide, as size expressions with who needs it.</summary>
    public List<(SizeExpr Size, string What)> Divisibility { get; } = new();

    /// <summary>What the tensor degree must divide or be a multiple of (key/value heads, replicated past the degree).</summary>
    public List<(SizeExpr Size, string What)> HeadReplication { get; } = new();

    public ShardState this[IrValue value] => _values.TryGetValue(value, out var s) ? s : ShardState.Replicated;

    public WeightSlice SliceOf(IrNode node) => _weights.TryGetValue(node, out var s) ? s : WeightSlice.Whole;

    /// <summary>The width this rank holds: width / TensorDegree when split (whole heads, or padded, as the split says).</summary>
    public SizeExpr LocalWidth(IrValue value) => LocalOf(this[value], value.Width);

    /// <summary>How many of <paramref name="heads"/> heads of a value this rank holds (all of them when it is not split).</summary>
    public SizeExpr LocalHeads(IrValue value, SizeExpr heads) => this[value] switch
    {
        { IsSplit: false } => heads,
        { Heads: not null } => SizeExpr.CeilDivide(heads, Degree),
        _ => Local(heads),
    };

    /// <summary>The output features of a product on this rank.</summary>
    public SizeExpr LocalOut(IrNode linear) => SliceOf(linear) is WeightSlice.Rows or WeightSlice.HeadRows or WeightSlice.PaddedRows
        ? LocalOf(this[linear.Output], SizeExpr.Parse(linear.Module!.Out!))
        : SizeExpr.Parse(linear.Module!.Out!);

    /// <summary>The input features of a product on this rank.</summary>
    public SizeExpr LocalIn(IrNode linear) => SliceOf(linear) == WeightSlice.Columns ? Local(SizeExpr.Parse(linear.Module!.In!)) : SizeExpr.Parse(linear.Module!.In!);

    /// <summary>The heads a head-split product (a key/value projection) is split by.</summary>
    public SizeExpr HeadsOf(IrNode linear) => _headSplitLinears[linear];

    private static SizeExpr Degree => SizeExpr.Named("TensorDegree");

    private static SizeExpr LocalOf(ShardState state, SizeExpr width) => state switch
    {
        { IsSplit: false } => width,
        { Heads: { } heads } => SizeExpr.Multiply(SizeExpr.CeilDivide(heads, Degree), SizeExpr.Divide(width, heads)),
        { Padded: true } => SizeExpr.CeilDivide(width, Degree),
        _ => Local(width),
    };

    public static SizeExpr Local(SizeExpr size) => SizeExpr.Divide(size, Degree);

    public static ShardingPlan Run(IrGraph graph, bool isModel)
    {
        var plan = new ShardingPlan();
        plan.FindHeadSplits(graph);
        if (isModel) plan._paddableResult = graph.Result;
        foreach (var node in graph.Nodes) plan.Visit(node);
        // The residual stream between blocks and the logits leave whole.
        if (plan[graph.Result].IsSplit)
        {
            plan.GatherBefore.Add(graph.Result);
            if (!isModel) plan._values[graph.Result] = ShardState.Replicated;
        }
        return plan;
    }

    private void Visit(IrNode node)
    {
        var inputs = node.Inputs;
        switch (node.Kind)
        {
            case OpKind.Linear:
                {
                    var module = node.Module!;
                    if (module.Sharding == Sharding.ColumnParallel)
                    {
                        RequireReplicated(inputs[0], node);
                        int groups = ChunkGroups(node.Output);
                        var outFeatures = SizeExpr.Parse(module.Out!);
                        if (_headSplitLinears.TryGetValue(node, out var heads))
                        {
                            // A key/value projection: whole heads per rank, replicated when the degree exceeds them.
                            HeadReplication.Add((heads, "the key/value heads"));
                            _weights[node] = WeightSlice.HeadRows;
                            _values[node.Output] = new ShardState(ShardKind.Split, Heads: heads);
                        }
                        else if (node.Output == _paddableResult && groups == 1)
                        {
                            // The model's result (the vocab-parallel head): any degree, the last rank's columns padded.
                            _weights[node] = WeightSlice.PaddedRows;
                            _values[node.Output] = new ShardState(ShardKind.Split, Padded: true);
                        }
                        else
                        {
                            Divisibility.Add((groups == 1 ? outFeatures : SizeExpr.Divide(outFeatures, SizeExpr.Constant(groups)), $"the output features of '{module.Name}'"));
                            _weights[node] = WeightSlice.Rows;
                            _values[node.Output] = new ShardState(ShardKind.Split, groups);
                        }
                    }
                    else if (module.Sharding == Sharding.RowParallel)
                    {
                        if (!this[inputs[0]].IsSplit)
                        {
                            // A replicated input is sliced locally for free; no collective needed before.
                        }
                        Divisibility.Add((SizeExpr.Parse(module.In!), $"the input features of '{module.Name}'"));
                        _weights[node] = WeightSlice.Columns;
                        AllReduceAfter.Add(node);
                        _values[node.Output] = ShardState.Replicated;
                    }
                    else
                    {
                        RequireReplicated(inputs[0], node);
                        _values[node.Output] = ShardState.Replicated;
                    }
                    break;
                }

            case OpKind.Rope:
                _values[node.Output] = this[inputs[0]];
                if (this[inputs[0]] is { IsSplit: true, Heads: null }) Divisibility.Add((node.Arguments[0], "the heads of Rope"));
                break;

            case OpKind.Attention:
                if (inputs.Any(i => this[i].IsSplit) && !inputs.All(i => this[i].IsSplit))
                    foreach (var i in inputs) RequireReplicated(i, node);
                if (this[inputs[0]].IsSplit)
                {
                    Divisibility.Add((node.Arguments[0], "the query heads"));
                    if (this[inputs[1]].Heads is null) Divisibility.Add((node.Arguments[1], "the key/value heads"));
                }
                _values[node.Output] = this[inputs[0]].IsSplit ? new ShardState(ShardKind.Split) : ShardState.Replicated;
                break;

            case OpKind.Silu:
            case OpKind.Gelu:
            case OpKind.Sigmoid:
            case OpKind.SoftCap:
            case OpKind.Scale:
                _values[node.Output] = this[inputs[0]];
                break;

            case OpKind.RmsNorm or OpKind.LayerNorm when node.Module!.PerHead:
                // Each head normalised on its own: a split by whole heads stays split (the weight is every head's).
                _values[node.Output] = this[inputs[0]];
                if (this[inputs[0]] is { IsSplit: true, Heads: null })
                    Divisibility.Add((SizeExpr.Divide(inputs[0].Width, SizeExpr.Parse(node.Module.In!)), $"the heads of '{node.Module.Name}'"));
                break;

            case OpKind.Mul when ShapeInference.IsScalarPerRow(inputs[0]) != ShapeInference.IsScalarPerRow(inputs[1]):
                {
                    // A per-token scalar (replicated) scales whatever share of the features this rank holds.
                    var scalar = ShapeInference.IsScalarPerRow(inputs[0]) ? inputs[0] : inputs[1];
                    var wide = scalar == inputs[0] ? inputs[1] : inputs[0];
                    RequireReplicated(scalar, node);
                    _values[node.Output] = this[wide];
                    break;
                }

            case OpKind.Add:
            case OpKind.Mul:
            case OpKind.Select:
                if (this[inputs[0]] != this[inputs[1]])
                    foreach (var i in inputs) RequireReplicated(i, node);
                _values[node.Output] = this[inputs[0]];
                break;

            case OpKind.Chunk:
                {
                    var state = this[inputs[0]];
                    _values[node.Output] = state.IsSplit ? new ShardState(ShardKind.Split, System.Math.Max(1, state.Groups / ChunkCount(node))) : ShardState.Replicated;
                    break;
                }

            default:
                // Embeddings, norms, the layers loop and parameters need (and give) whole rows.
                foreach (var i in inputs) RequireReplicated(i, node);
                _values[node.Output] = ShardState.Replicated;
                break;
        }
    }

    /// <summary>
    /// The column-parallel products whose output only feeds an attention's keys or values (directly or through RoPE
    /// and a per-head norm): split by the attention's key/value heads, whole heads per rank.
    /// </summary>
    private void FindHeadSplits(IrGraph graph)
    {
        foreach (var attention in graph.Nodes.Where(n => n.Kind == OpKind.Attention))
            for (int input = 1; input <= 2; input++)
            {
                var value = attention.Inputs[input];
                while (value.Consumers.Count == 1 && (value.Producer.Kind == OpKind.Rope || value.Producer.Module is { PerHead: true }))
                    value = value.Producer.Inputs[0];
                if (value.Consumers.Count == 1 && value.Producer is { Kind: OpKind.Linear, Module.Sharding: Sharding.ColumnParallel } linear && ChunkGroups(value) == 1)
                    _headSplitLinears[linear] = attention.Arguments[1];
            }
    }

    private void RequireReplicated(IrValue value, IrNode reader)
    {
        if (this[value].IsSplit) GatherBefore.Add(value);
    }

    /// <summary>A product whose every reader is Chunk(x, i, n) is split part by part (n groups), so each chunk stays local.</summary>
    private static int ChunkGroups(IrValue value)
    {
        var counts = value.Consumers.Select(c => c.Kind == OpKind.Chunk && c.Arguments[1] is SizeExpr.Number n ? (int)n.Value : 0).Distinct().ToList();
        return counts.Count == 1 && counts[0] > 1 ? counts[0] : 1;
    }

    private static int ChunkCount(IrNode chunk) => chunk.Arguments[1] is SizeExpr.Number n ? (int)n.Value : 1;
}
