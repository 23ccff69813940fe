using System.Linq;
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

    /// <summary>
    /// For a Select: the copy of the side its condition picks into its buffer (the copy a back end writes, given the
    /// element count), or a comment when both sides were computed there (the buffer planner's rule) and nothing is left to do.
    /// </summary>
    public string SelectCopy(System.Func<string, string, string, string> copy)
    {
        var buffers = Module.Buffers;
        string output = buffers[Node.Output];
        return Node.Inputs.All(side => buffers[side] == output)
            ? $"// (both sides were computed into {output})"
            : copy($"{Node.Arguments[0]} ? {Buf(Node.Inputs[0])} : {Buf(Node.Inputs[1])}", output, $"rows * ({Local(Node.Output)})");
    }

    /// <summary>This rank's width of <paramref name="value"/> (its feature axis split or not).</summary>
    public SizeExpr Local(IrValue value) => Module.Sharding.LocalWidth(value);

    /// <summary>The head dimension of a Rope or Attention node: its first input's width over its head count (first argument).</summary>
    public SizeExpr HeadDim => SizeExpr.Divide(Node.Inputs[0].Width, Node.Arguments[0]);

    /// <summary>Head counts of an op on a split value are this rank's heads (of the input that carries them).</summary>
    public SizeExpr Heads(int argument, int input) => Module.Sharding.LocalHeads(Node.Inputs[input], Node.Arguments[argument]);

    /// <summary>The In-wide groups (heads) a per-head norm normalises in each row, on this rank.</summary>
    public SizeExpr NormGroups => Module.Sharding.LocalHeads(Node.Inputs[0], SizeExpr.Divide(Node.Inputs[0].Width, SizeExpr.Parse(Node.Module!.In!)));

    /// <summary>A Rope's optional arguments as the kernel call's trailing ones (", scaling, rotaryFraction"), left out at their defaults.</summary>
    public string RopeOptions => Options(("scaling", 2, "null"), ("rotaryFraction", 3, "1"));

    /// <summary>An Attention's optional arguments as the kernel call's trailing named ones, left out at their defaults.</summary>
    public string AttentionOptions => Options(("scale", 2, "0"), ("softCap", 3, "0"), ("window", 4, "0"));

    private string Options(params (string Name, int Argument, string Default)[] options)
    {
        var node = Node;
        return string.Concat(options
            .Where(o => o.Argument < node.Arguments.Count && node.Arguments[o.Argument].ToString() != o.Default)
            .Select(o => $", {o.Name}: {node.Arguments[o.Argument]}"));
    }
}
