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

    public override void WriteKernel(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer) =>
        CpuKernelWriter.Write(kernel, module, weights, writer);
}
