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
internal sealed record ShardState(ShardKind Kind, int Groups = 1)
{
    public static ShardState Replicated { get; } = new(ShardKind.Replicated);

    public bool IsSplit => Kind == ShardKind.Split;
}

/// <summary>How a module's weight is sliced on each rank.</summary>
internal enum WeightSlice { Whole, Rows, Columns }

/// <summary>
/// Sharding propagation (Megatron-style) over one graph, from the [ColumnParallel] / [RowParallel] / [Replicated]
/// annotations: a column-parallel Linear splits its output features; element-wise ops, RoPE and attention keep a
/// split (heads are split with the features); a row-parallel Linear consumes a split and leaves partial sums, which an
/// all-reduce turns back into a replicated value; anything that needs whole rows (norms, the residual stream, the
/// result) all-gathers a split first. The pass records every decision the back ends need: each value's layout, each
/// weight's slice, and where the collectives go. It is general over the feature axis and both collectives; it knows
/// nothing of "attention blocks" as such.
/// </summary>
internal sealed class ShardingPlan
{
    private readonly Dictionary<IrValue, ShardState> _values = new();
    private readonly Dictionary<IrNode, WeightSlice> _weights = new();

    /// <summary>Row-parallel products: their output is all-reduced before any element-wise work reads it.</summary>
    public HashSet<IrNode> AllReduceAfter { get; } = new();

    /// <summary>Split values that must be all-gathered before a node reads them (or before they leave as the result).</summary>
    public HashSet<IrValue> GatherBefore { get; } = new();

    /// <summary>What the tensor degree must divide, as size expressions with who needs it.</summary>
    public List<(SizeExpr Size, string What)> Divisibility { get; } = new();

    public ShardState this[IrValue value] => _values.TryGetValue(value, out var s) ? s : ShardState.Replicated;

    public WeightSlice SliceOf(IrNode node) => _weights.TryGetValue(node, out var s) ? s : WeightSlice.Whole;

    /// <summary>The width this rank holds: width / TensorDegree when split.</summary>
    public SizeExpr LocalWidth(IrValue value) => this[value].IsSplit ? Local(value.Width) : value.Width;

    public static SizeExpr Local(SizeExpr size) => SizeExpr.Divide(size, SizeExpr.Named("TensorDegree"));

    public static ShardingPlan Run(IrGraph graph, bool isModel)
    {
        var plan = new ShardingPlan();
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
                        Divisibility.Add((groups == 1 ? outFeatures : SizeExpr.Divide(outFeatures, SizeExpr.Constant(groups)), $"the output features of '{module.Name}'"));
                        _weights[node] = WeightSlice.Rows;
                        _values[node.Output] = new ShardState(ShardKind.Split, groups);
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
                if (this[inputs[0]].IsSplit) Divisibility.Add((node.Arguments[0], "the heads of Rope"));
                break;

            case OpKind.Attention:
                if (inputs.Any(i => this[i].IsSplit) && !inputs.All(i => this[i].IsSplit))
                    foreach (var i in inputs) RequireReplicated(i, node);
                if (this[inputs[0]].IsSplit)
                {
                    Divisibility.Add((node.Arguments[0], "the query heads"));
                    Divisibility.Add((node.Arguments[1], "the key/value heads"));
                }
                _values[node.Output] = this[inputs[0]].IsSplit ? new ShardState(ShardKind.Split) : ShardState.Replicated;
                break;

            case OpKind.Silu:
            case OpKind.Gelu:
                _values[node.Output] = this[inputs[0]];
                break;

            case OpKind.Add:
            case OpKind.Mul:
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
