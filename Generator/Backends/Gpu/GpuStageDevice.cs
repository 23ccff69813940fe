using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Gpu;

/// <summary>
/// The GPU back end's side of the stage program: ILGPU views, a device buffer per workspace slot, the token ids,
/// positions and cache slots uploaded once per forward, device-to-device stage hand-offs, and launches.
/// </summary>
/// <param name="sizes">the launches' leading sizes argument ("_sizes, " for a shape-generic engine, else "")</param>
/// <param name="catalog">the model's device kernel methods, by launch</param>
internal sealed class GpuStageDevice(string sizes, GpuKernelWriter.DeviceKernelCatalog catalog) : StageDevice
{
    private const string Floats = "global::ILGPU.ArrayView<float>";
    private const string Ints = "global::ILGPU.ArrayView<int>";

    public override string Buffer => Floats;

    public override void WriteForwardSetup(CompiledModel compiled, IndentedTextWriter writer)
    {
        writer.WriteLine("_gpu.Device.Bind(); // each rank runs on its own thread: make its accelerator current there");
        WriteSlots(compiled.Root, writer);
        writer.WriteLine("var tokens = _gpu.Ints(\"tokens\", batch.Tokens);");
        writer.WriteLine("var positions = _gpu.Ints(\"positions\", batch.Positions);");
    }

    public override void WriteLayersSetup(IndentedTextWriter writer) => writer.WriteLine("var cacheSlots = _gpu.CacheSlots(batch);");

    public override string Receive(string floats) => $"_gpu.ReceiveActivations(_rank.Previous!, {floats})";

    public override string Send(string buffer, string floats) => $"_gpu.SendActivations(_rank.Next!, {buffer}, {floats});";

    public override string BlockParameters => $", {Ints} tokens, {Ints} positions, {Ints} cacheSlots";

    public override string BlockArguments => ", tokens, positions, cacheSlots";

    public override void WriteModuleSetup(CompiledModule module, bool expert, IndentedTextWriter writer) => WriteSlots(module, writer);

    /// <summary>The kernels, with the products of one input stacked into one (<see cref="StackedProducts"/>).</summary>
    public override void WriteKernels(IEnumerable<Kernel> kernels, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var stacks = StackedProducts.Of(module);
        foreach (var kernel in kernels)
        {
            var stack = stacks.FirstOrDefault(s => s.Members.Contains(kernel));
            if (stack is not null && stack.First == kernel) GpuHostWriter.WriteStack(stack, module, weights, writer);
            if (stack is not null && !kernel.HasEpilogue) continue; // all of it ran in the stack
            GpuHostWriter.Write(kernel, module, weights, sizes, catalog, writer, stacked: stack is not null);
        }
    }

    public override void WriteKernel(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer) =>
        GpuHostWriter.Write(kernel, module, weights, sizes, catalog, writer);

    /// <summary>A device buffer per workspace slot of the module, as wide as the widest value it holds on this rank.</summary>
    private static void WriteSlots(CompiledModule module, IndentedTextWriter writer)
    {
        foreach (var slot in module.Buffers.Slots)
        {
            var widths = module.Graph.Values.Where(v => slot.Holds.Contains(v.Name)).Select(v => module.Sharding.LocalWidth(v).ToString()).Distinct().ToList();
            if (widths.Count == 0) widths = slot.Widths.Select(w => w.ToString()).ToList();
            string max = widths.Skip(1).Aggregate($"({widths[0]})", (a, w) => $"global::System.Math.Max({a}, {w})");
            writer.WriteLine($"var {slot.Name} = _gpu.Slot(\"{slot.Name}\", (long)rows * {max});");
        }
    }
}
