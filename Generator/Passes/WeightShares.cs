using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// The parameters of a module's weights, and which of them every tensor rank holds whole (norms, replicated tensors,
/// biases added after a row-parallel product's all-reduce): what the cost model (Runtime/Planning/ModelCost.cs) needs
/// besides the totals, so that per-device figures are what the engine really loads.
/// </summary>
internal static class WeightShares
{
    /// <summary>The weight each share of <see cref="Of"/> belongs to, in the same order.</summary>
    public static IEnumerable<WeightFieldInfo> Weights(IEnumerable<WeightFieldInfo> weights) =>
        weights.SelectMany(w => w.Kind is ModuleKind.RmsNorm or ModuleKind.LayerNorm || !w.Bias ? new[] { w } : new[] { w, w });

    /// <summary>(parameters, held whole) of each tensor of <paramref name="weights"/>, as size expressions.</summary>
    public static IEnumerable<(SizeExpr Parameters, bool Whole)> Of(CompiledModule? module, IEnumerable<WeightFieldInfo> weights)
    {
        foreach (var w in weights)
        {
            var node = module?.Graph.Nodes.FirstOrDefault(n => n.Module?.Name == w.Name);
            var slice = node is null ? WeightSlice.Whole : module!.Sharding.SliceOf(node);
            switch (w.Kind)
            {
                case ModuleKind.RmsNorm:
                    yield return (SizeExpr.Parse(w.In!), true);
                    break;
                case ModuleKind.LayerNorm:
                    yield return (SizeExpr.Multiply(SizeExpr.Constant(2), SizeExpr.Parse(w.In!)), true);
                    break;
                default:
                    yield return (SizeExpr.Multiply(SizeExpr.Parse(w.Out!), SizeExpr.Parse(w.In!)), slice == WeightSlice.Whole);
                    // A bias follows its product's output: split with split outputs, whole after an all-reduce.
                    if (w.Bias) yield return (SizeExpr.Parse(w.Out!), slice is WeightSlice.Whole or WeightSlice.Columns);
                    break;
            }
        }
    }
}
