using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>What a kernel computes; each back end has one emitter per kind.</summary>
internal enum KernelKind
{
    /// <summary>Embedding row gather; a second gather summed into it when fused (GPT-2's wte + wpe).</summary>
    Gather,
    /// <summary>Matrix product with an element-wise epilogue (bias, activation, residual add, gating).</summary>
    MatMul,
    Norm,
    Rope,
    Attention,
    /// <summary>A chain of element-wise ops in one pass.</summary>
    Elementwise,
    Chunk,
    Layers,
    /// <summary>A router's top-k choice: softmax, top-k, weights (the runtime's ExpertRouter).</summary>
    Route,
    /// <summary>Dispatch each token to its experts, run every held expert once over its tokens, combine weighted.</summary>
    Mixture,
    /// <summary>The side of a Select its condition picks (nothing to do when both sides were computed into its buffer).</summary>
    Select,
}

/// <summary>
/// A unit of generated work: an anchor node plus the element-wise nodes fused into it. Its output is the value of the
/// last fused node.
/// </summary>
internal sealed class Kernel(KernelKind kind, IrNode anchor, IReadOnlyList<IrNode> fused)
{
    public KernelKind Kind { get; } = kind;

    public IrNode Anchor { get; } = anchor;

    /// <summary>Nodes after the anchor, applied in order (epilogue of a MatMul, the rest of an element-wise chain).</summary>
    public IReadOnlyList<IrNode> Fused { get; } = fused;

    public IEnumerable<IrNode> Nodes => new[] { Anchor }.Concat(Fused);

    public IrValue Output => Fused.Count > 0 ? Fused[Fused.Count - 1].Output : Anchor.Output;

    /// <summary>Rope rotates its input in place when nothing else reads it.</summary>
    public bool InPlace { get; set; }

    /// <summary>The final Linear whose rows are only the rows the caller wants logits for.</summary>
    public bool IsHead { get; set; }

    /// <summary>A product with work after it on its output (its epilogue): a bias, or fused element-wise steps.</summary>
    public bool HasEpilogue => Anchor.Module is { Bias: true } || Fused.Count > 0;

    /// <summary>The values the fused steps read besides what the kernel computes, in first-use order (a GPU launch passes them so).</summary>
    public List<IrValue> EpilogueOperands =>
        Fused.SelectMany(s => s.Inputs).Where(i => !Nodes.Select(n => n.Output).Contains(i)).Distinct().ToList();

    /// <summary>Values read from outside the kernel.</summary>
    public IEnumerable<IrValue> Inputs
    {
        get
        {
            var inside = new HashSet<IrValue>(Nodes.Select(n => n.Output));
            return Nodes.SelectMany(n => n.Inputs).Where(v => !inside.Contains(v)).Distinct();
        }
    }

    /// <summary>When the kernel runs (all its nodes run together).</summary>
    public Predicate Predicate => Anchor.Predicate;

    /// <summary>The model source of every node, for the comment above the kernel.</summary>
    public string Describe() => Nodes.Last().Source;
}
