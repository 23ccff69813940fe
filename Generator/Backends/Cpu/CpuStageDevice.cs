using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Cpu;

/// <summary>The CPU back end's side of the stage program: host arrays, the engine's workspace, in-process links.</summary>
internal sealed class CpuStageDevice : StageDevice
{
    public static CpuStageDevice Instance { get; } = new();

    public override string Buffer => "float[]";

    public override void WriteForwardSetup(CompiledModel compiled, IndentedTextWriter writer) => writer.WriteLine("EnsureWorkspace(rows);");

    public override string Receive(string floats) => $"_rank.Previous!.Receive({floats})";

    public override string Send(string buffer, string floats) => $"_rank.Next!.Send({buffer}, {floats});";

    public override void WriteModuleSetup(CompiledModule module, bool expert, IndentedTextWriter writer)
    {
        if (expert) writer.WriteLine("EnsureExpertWorkspace(rows);");
        writer.WriteLine();
    }

    public override void WriteHeadSetup(CompiledModel compiled, IndentedTextWriter writer) =>
        writer.WriteLine($"var logits = batch.LogitsArray({compiled.Vocab});");

    /// <summary>The kernels, with products of one input in one call where their epilogues allow (<see cref="RunsAsOneCall"/>).</summary>
    public override void WriteKernels(IEnumerable<Kernel> kernels, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var stacks = StackedProducts.Of(module).Where(s => RunsAsOneCall(s, module)).ToList();
        foreach (var kernel in kernels)
        {
            var stack = stacks.FirstOrDefault(s => s.Members.Contains(kernel));
            if (stack is null) WriteKernel(kernel, module, weights, writer);
            else if (stack.First == kernel) CpuKernelWriter.WriteStack(stack, module, weights, writer);
        }
    }

    public override void WriteKernel(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer) =>
        CpuKernelWriter.Write(kernel, module, weights, writer);

    /// <summary>
    /// Whether a stack's epilogues may run inside its one call (CpuKernels.MatMul over several targets), at the first
    /// member's place. A member's epilogue then runs before the kernels between the first member and it, and beside
    /// the other members' products: none of its operands may be written by those kernels, nor be a later member's
    /// output; an earlier member's output only when all members are equally wide (the runtime then computes each
    /// column chunk for the members in order, on one thread: SwiGLU's up · silu(gate) reads gate's finished segment).
    /// </summary>
    private static bool RunsAsOneCall(StackedProducts.Stack stack, CompiledModule module)
    {
        var buffers = module.Buffers;
        var outputs = stack.Members.Select(m => buffers[m.Output]).ToList();
        bool equallyWide = stack.Members.Select(m => module.Sharding.LocalOut(m.Anchor).ToString()).Distinct().Count() == 1;
        var writtenBetween = new HashSet<string>();
        int member = 0;
        foreach (var kernel in module.Kernels.SkipWhile(k => k != stack.First))
        {
            if (member == stack.Members.Count) break;
            if (kernel != stack.Members[member])
            {
                foreach (var node in kernel.Nodes)
                    if (buffers.Find(node.Output) is { } written) writtenBetween.Add(written);
                continue;
            }
            foreach (var operand in kernel.EpilogueOperands)
            {
                if (buffers.Find(operand) is not { } read) continue;
                int owner = outputs.IndexOf(read);
                if (writtenBetween.Contains(read) || owner > member || (owner >= 0 && owner < member && !equallyWide)) return false;
            }
            member++;
        }
        return true;
    }
}
