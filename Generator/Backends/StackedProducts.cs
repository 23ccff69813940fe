using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends;

/// <summary>
/// Products of one input that a back end runs as one: matrix products of a module that read the same input (Q, K and
/// V of attention; gate and up of a SwiGLU MLP). The GPU stacks their weights row-wise — the input read once, the
/// weights in one pass, one launch (one GEMV per layer instead of three in decode) — and hands each product's columns
/// to its own buffer, where its epilogue runs as before. The CPU runs them in one kernel call (one hand-off of its
/// threads), epilogues included, where their epilogues allow it (CpuStageDevice).
/// </summary>
/// <remarks>
/// A later product computed early must not change what any kernel in between sees: none of them may read or write
/// its output's buffer, nor write the shared input's. Left out: the head (it multiplies only the wanted rows),
/// row-parallel products (their partial sums are all-reduced one by one) and a router's (its weights stay F32
/// whatever the rank's precision, so they cannot stack with the others).
/// </remarks>
internal static class StackedProducts
{
    /// <summary>One stacked product: its members in kernel order, and the name of its stacked weight field.</summary>
    internal sealed record Stack(IReadOnlyList<Kernel> Members)
    {
        public string Name => string.Concat(Members.Select(m => m.Anchor.Module!.Name));

        public Kernel First => Members[0];
    }

    public static IReadOnlyList<Stack> Of(CompiledModule module)
    {
        var kernels = module.Kernels;
        var stacks = new List<Stack>();
        var taken = new HashSet<Kernel>();
        for (int i = 0; i < kernels.Count; i++)
        {
            var first = kernels[i];
            if (taken.Contains(first) || !Stackable(first, module)) continue;
            var members = new List<Kernel> { first };
            string input = module.Buffers[first.Anchor.Inputs[0]];
            var inFeatures = module.Sharding.LocalIn(first.Anchor).ToString();
            var touched = new HashSet<string>(); // buffers read or written by the kernels passed over so far
            bool inputWritten = false;
            for (int j = i + 1; j < kernels.Count; j++)
            {
                var next = kernels[j];
                // A stack runs under one condition: it ends where kernels of another layer kind begin.
                if (!next.Predicate.Equals(first.Predicate)) break;
                bool joins = Stackable(next, module) && !taken.Contains(next)
                    && module.Buffers[next.Anchor.Inputs[0]] == input && module.Sharding.LocalIn(next.Anchor).ToString() == inFeatures
                    && !inputWritten && !touched.Contains(module.Buffers[next.Output]);
                if (joins)
                {
                    members.Add(next);
                    continue;
                }
                foreach (var value in next.Inputs.Concat(next.Nodes.Select(n => n.Output)))
                    if (module.Buffers.Find(value) is { } buffer) touched.Add(buffer);
                if (next.Nodes.Any(n => module.Buffers.Find(n.Output) == input)) inputWritten = true;
            }
            if (members.Count < 2) continue;
            foreach (var member in members) taken.Add(member);
            stacks.Add(new Stack(members));
        }
        return stacks;
    }

    private static bool Stackable(Kernel kernel, CompiledModule module) =>
        kernel.Kind == KernelKind.MatMul && !kernel.IsHead
        && module.Sharding.SliceOf(kernel.Anchor) != WeightSlice.Columns
        && !kernel.Anchor.Output.Consumers.Any(c => c.Kind == OpKind.Route);
}
