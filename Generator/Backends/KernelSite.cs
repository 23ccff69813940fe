using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends;

/// <summary>
/// One kernel as a back end's writer sees it: its anchor node, the buffer each value lives in, and this rank's share
/// of each size. The per-kind emit methods of every back end read a kernel through it, so "which buffer" and "how many
/// heads on this rank" are answered in one place.
/// </summary>
internal readonly record struct KernelSite(Kernel Kernel, CompiledModule Module)
{
    public IrNode Node => Kernel.Anchor;

    /// <summary>The C# expression of the buffer holding <paramref name="value"/>.</summary>
    public string Buf(IrValue value) => Module.Buffers[value];

    /// <summary>This rank's width of <paramref name="value"/> (its feature axis split or not).</summary>
    public SizeExpr Local(IrValue value) => Module.Sharding.LocalWidth(value);

    /// <summary>The head dimension of a Rope or Attention node: its first input's width over its head count (first argument).</summary>
    public SizeExpr HeadDim => SizeExpr.Divide(Node.Inputs[0].Width, Node.Arguments[0]);

    /// <summary>Head counts of an op on a split value are this rank's heads (of the input that carries them).</summary>
    public SizeExpr Heads(int argument, int input) => Module.Sharding.LocalHeads(Node.Inputs[input], Node.Arguments[argument]);
}
