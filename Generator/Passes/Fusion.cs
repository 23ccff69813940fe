using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// Groups IR nodes into kernels. Element-wise work is fused into its neighbours so it costs no extra pass over memory:
/// into the epilogue of the matrix product that produces its operand (bias, activation, residual add, SwiGLU gating),
/// or into one loop with the element-wise ops around it. Two embedding gathers that are summed become one kernel.
/// A node is fused only when the value it extends has no other reader and its other operands already exist.
/// </summary>
internal static class Fusion
{
    public static List<Kernel> Run(IrGraph graph, bool isModel, ShardingPlan sharding)
    {
        var kernels = new List<Kernel>();
        var done = new HashSet<IrNode>();
        foreach (var node in graph.Nodes)
        {
            if (done.Contains(node) || node.Kind is OpKind.Tokens or OpKind.Input) continue;
            Kernel kernel = node.Kind switch
            {
                OpKind.Embedding or OpKind.PositionEmbedding => GatherKernel(node),
                // A head whose logits are all-gathered keeps its epilogue free of row-indexed operands.
                OpKind.Linear => new Kernel(KernelKind.MatMul, node, Chain(node, graph, allowOperands: !(isModel && ReachesResult(node, graph)))),
                OpKind.RmsNorm or OpKind.LayerNorm => new Kernel(KernelKind.Norm, node, []),
                OpKind.Rope => new Kernel(KernelKind.Rope, node, []) { InPlace = node.Inputs[0].Consumers.Count == 1 && node.Inputs[0] != graph.Input },
                OpKind.Attention => new Kernel(KernelKind.Attention, node, []),
                OpKind.Chunk => new Kernel(KernelKind.Chunk, node, []),
                OpKind.Layers => new Kernel(KernelKind.Layers, node, []),
                OpKind.Route => new Kernel(KernelKind.Route, node, []),
                OpKind.Mixture => new Kernel(KernelKind.Mixture, node, []),
                OpKind.Select => new Kernel(KernelKind.Select, node, []),
                _ => new Kernel(KernelKind.Elementwise, node, Chain(node, graph, allowOperands: true)),
            };
            if (kernel.Kind == KernelKind.MatMul && isModel && kernel.Output == graph.Result) kernel.IsHead = true;
            foreach (var n in kernel.Nodes) done.Add(n);
            kernels.Add(kernel);
        }
        return kernels;
    }

    /// <summary>wte(tokens) + wpe(tokens): the second gather accumulates into the first one's output.</summary>
    private static Kernel GatherKernel(IrNode node)
    {
        if (node.Output.Consumers.Count == 1 && node.Output.Consumers[0] is { Kind: OpKind.Add } add)
        {
            var other = add.Inputs.First(i => i != node.Output).Producer;
            if (other != node && other.Kind is OpKind.Embedding or OpKind.PositionEmbedding && other.Output.Consumers.Count == 1)
                return new Kernel(KernelKind.Gather, node, [other, add]);
        }
        return new Kernel(KernelKind.Gather, node, []);
    }

    /// <summary>The element-wise nodes that can follow <paramref name="start"/> in one pass.</summary>
    private static List<IrNode> Chain(IrNode start, IrGraph graph, bool allowOperands)
    {
        var chain = new List<IrNode>();
        var current = start.Output;
        while (current.Consumers.Count == 1 && current != graph.Result)
        {
            var next = current.Consumers[0];
            // Element-wise work of the same width (a per-token gate widens a value: it starts its own loop) that runs
            // when the kernel does.
            if (!next.IsElementwise || next.Output.Width.ToString() != current.Width.ToString() || !next.Predicate.Equals(start.Predicate)) break;
            var operands = next.Inputs.Where(i => i != current).ToList();
            // An operand must already exist when the kernel runs (produced before its first node), and be the same
            // value twice at most (x * x reads one operand).
            if (operands.Count > 0 && (!allowOperands || operands.Any(o => o.Producer.Index > start.Index))) break;
            chain.Add(next);
            current = next.Output;
        }
        return chain;
    }

    private static bool ReachesResult(IrNode node, IrGraph graph)
    {
        var current = node.Output;
        while (current.Consumers.Count == 1 && current.Consumers[0].IsElementwise) current = current.Consumers[0].Output;
        return current == graph.Result;
    }
}
