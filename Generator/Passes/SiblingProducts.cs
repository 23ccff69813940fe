using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// Moves the matrix products of one input next to each other, before buffers are planned, so that a back end can run
/// them as one (Backends/StackedProducts). As written, Qwen3's and Gemma 3's attention interleaves them with the work
/// on each result — <c>Rope(QNorm(Q(h)))</c>, then <c>Rope(KNorm(K(h)))</c>, then <c>V(h)</c> — and the buffer plan
/// would then reuse Q's buffer for K: three products, three passes over the threads (three GEMV launches on a GPU) in
/// decode, where Llama's block takes one.
/// </summary>
/// <remarks>
/// A product moves up only past kernels it does not depend on: everything it reads (its input, its epilogue's
/// operands) is computed before the place it moves to. Values are written once at this stage, so no kernel passed
/// over can read what it computes. It stays under its own condition (a product of a local layer does not join one of
/// a global layer), and only products a back end stacks move: not the head, not a row-parallel product, not a router.
/// </remarks>
internal static class SiblingProducts
{
    public static List<Kernel> Group(List<Kernel> kernels, ShardingPlan sharding)
    {
        var ordered = new List<Kernel>(kernels);
        for (int i = 0; i < ordered.Count; i++)
        {
            var first = ordered[i];
            if (!Movable(first, sharding)) continue;
            var input = first.Anchor.Inputs[0];
            int end = i + 1; // where the next sibling goes
            for (int j = i + 1; j < ordered.Count; j++)
            {
                var next = ordered[j];
                if (j == end)
                {
                    if (IsSibling(next, first, input, sharding)) end++;
                    continue;
                }
                if (!IsSibling(next, first, input, sharding)) continue;
                var computedLater = new HashSet<IrValue>(ordered.Skip(end).Take(j - end).SelectMany(k => k.Nodes.Select(n => n.Output)));
                if (next.Inputs.Any(computedLater.Contains)) continue;
                ordered.RemoveAt(j);
                ordered.Insert(end++, next);
            }
            i = end - 1;
        }
        return ordered;
    }

    private static bool IsSibling(Kernel next, Kernel first, IrValue input, ShardingPlan sharding) =>
        Movable(next, sharding) && next.Anchor.Inputs[0] == input && next.Predicate.Equals(first.Predicate)
        && sharding.LocalIn(next.Anchor).ToString() == sharding.LocalIn(first.Anchor).ToString();

    private static bool Movable(Kernel kernel, ShardingPlan sharding) =>
        kernel.Kind == KernelKind.MatMul && !kernel.IsHead
        && sharding.SliceOf(kernel.Anchor) != WeightSlice.Columns
        && !kernel.Anchor.Output.Consumers.Any(c => c.Kind == OpKind.Route);
}
