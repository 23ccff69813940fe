using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends;
using Tessera.Generator.Backends.Gpu;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes the GPU back end of an engine: <c>OnGpu(device)</c>, the <c>DeviceKernels</c> (ILGPU, C#), and the nested
/// <c>Gpu</c> rank program — the same stage program as the CPU engine (receive or embed, the layers, send or head),
/// with device buffers, products and launches of the generated kernels. It takes its sizes, plan and host weights
/// from the CPU engine it is made from, and uploads its weights (the CPU engine and its host weights are then
/// garbage once the caller drops them: a GPU rank keeps no host copy).
/// </summary>
internal static class GpuEngineWriter
{
    private const string Floats = "global::ILGPU.ArrayView<float>";
    private const string Ints = "global::ILGPU.ArrayView<int>";

    public static void Write(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var model = context.Compiled.Model;
        writer.WriteLine("/// <summary>This rank on a GPU virtual device: a CUDA GPU or ILGPU's CPU accelerator (several may share one).</summary>");
        writer.WriteLine("public Gpu OnGpu(global::Tessera.Gpu.GpuDevice device) => new(this, device);");
        writer.WriteLine();
        if (!context.Sizes.IsSpecialised)
        {
            GpuKernelWriter.WriteSizesRecord(model, writer);
            writer.WriteLine();
        }
        var catalog = GpuKernelWriter.Catalog(context.Compiled);
        GpuKernelWriter.Write(model, catalog, context.Sizes.IsSpecialised, writer);
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// The GPU rank program: matrix products on cuBLAS (the runtime's product kernels off a GPU), everything else");
        writer.WriteLine("/// in <see cref=\"DeviceKernels\"/>, one device buffer per CPU workspace slot. Between virtual devices on one");
        writer.WriteLine("/// accelerator, collectives and stage boundaries stay on the device.");
        writer.WriteLine("/// </summary>");
        using (writer.WriteBlock("public sealed class Gpu : global::Tessera.ITransformerEngine, global::Tessera.Parallelism.IRankProgram, global::System.IDisposable"))
        {
            WriteFields(context, writer);
            writer.WriteLine();
            WriteDeviceWeights(context.Compiled.Root, writer);
            foreach (var module in new[] { context.Compiled.Block, context.Compiled.Expert }.Where(m => m is not null))
            {
                writer.WriteLine();
                WriteDeviceWeights(module!, writer);
            }
            writer.WriteLine();
            WriteConstructor(context, writer);
            writer.WriteLine();
            WriteProperties(context, writer);
            writer.WriteLine();
            var device = new GpuStageDevice(SizesArgument(context), catalog);
            StageProgramWriter.WriteRunStage(context, device, writer);
            if (context.Compiled.Block is not null)
            {
                writer.WriteLine();
                StageProgramWriter.WriteModuleMethods(context, device, writer);
            }
        }
    }

    /// <summary>The launches' leading sizes argument: the specialised value of a shape-generic engine, nothing for a unit.</summary>
    private static string SizesArgument(EngineWriter.EngineContext context) => context.Sizes.IsSpecialised ? "" : "_sizes, ";

    /// <summary>The device weights, the device stage, and (shape-generic) the sizes copied from the engine.</summary>
    private static void WriteFields(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        writer.WriteLine("private readonly global::Tessera.Parallelism.RankContext _rank;");
        writer.WriteLine("private readonly global::Tessera.ModelShape _shape;");
        writer.WriteLine($"private readonly {DeviceWeights(compiled.Root.Module)} _weights;");
        if (compiled.Block is { } block) writer.WriteLine($"private readonly {DeviceWeights(block.Module)}[] _layers;");
        writer.WriteLine("private readonly global::Tessera.Gpu.GpuStage _gpu;");
        writer.WriteLine("private readonly object _gate = new();");
        if (!context.Sizes.IsSpecialised)
        {
            foreach (var field in context.Compiled.Model.Config)
                writer.WriteLine($"private readonly {SizeBinding.TypeOf(field)} {field.Name};");
            writer.WriteLine("private readonly int TensorDegree;");
            writer.WriteLine("private readonly global::ILGPU.Runtime.SpecializedValue<DeviceSizes> _sizes;");
        }
        writer.WriteLine("private readonly int TensorRank, FirstLayer, EndLayer;");
        if (compiled.Expert is not null) writer.WriteLine("private readonly int FirstExpert, EndExpert;");
    }

    private static string DeviceWeights(ModuleInfo module) => "Device" + WeightsWriter.ClassName(module);

    /// <summary>The weights of products the GPU stacks (<see cref="StackedProducts"/>): held only in their stack.</summary>
    private static HashSet<string> StackedWeights(IReadOnlyList<StackedProducts.Stack> stacks) =>
        new(stacks.SelectMany(s => s.Members.Select(m => m.Anchor.Module!.Name)));

    /// <summary>A module's weights on the device: the host weight class's fields, as device views, and its stacks.</summary>
    private static void WriteDeviceWeights(CompiledModule compiled, IndentedTextWriter writer)
    {
        var module = compiled.Module;
        var stacks = StackedProducts.Of(compiled);
        var stacked = StackedWeights(stacks);
        writer.WriteLine($"/// <summary>The tensors of one {module.TypeName} on the device, uploaded when the rank program is made.</summary>");
        using (writer.WriteBlock($"private sealed class {DeviceWeights(module)}"))
        {
            foreach (var w in module.Weights)
            {
                if (!stacked.Contains(w.Name)) writer.WriteLine($"public {(w.Kind == ModuleKind.Linear ? "global::Tessera.Gpu.DeviceMatrix" : Floats)} {w.Name};");
                if (WeightsWriter.HasBias(w)) writer.WriteLine($"public {Floats} {w.Name}Bias;");
            }
            foreach (var stack in stacks)
            {
                writer.WriteLine($"/// <summary>{string.Join(", ", stack.Members.Select(m => m.Anchor.Module!.Name))} stacked row-wise: one product over all of them.</summary>");
                writer.WriteLine($"public global::Tessera.Gpu.DeviceMatrix {stack.Name};");
            }
            if (module.Experts is { } experts)
                writer.WriteLine($"public Device{experts.BlockType}Weights[] {experts.Name} = [];");
        }
    }

    /// <summary>The statement uploading a module's weights from the host weight object <paramref name="host"/>.</summary>
    private static string Upload(CompiledModule compiled, string host, CompiledModule? expert)
    {
        var module = compiled.Module;
        var stacks = StackedProducts.Of(compiled);
        var stacked = StackedWeights(stacks);
        var fields = module.Weights.SelectMany(w => WeightsWriter.HasBias(w) ? new[] { w.Name, w.Name + "Bias" } : new[] { w.Name })
            .Where(f => !stacked.Contains(f))
            .Select(f => module.Weights.Any(w => w.Name == f && w.Kind == ModuleKind.Embedding)
                ? $"{f} = _gpu.Table({host}.{f})"
                : $"{f} = _gpu.Weight({host}.{f})").ToList();
        foreach (var stack in stacks)
            fields.Add($"{stack.Name} = _gpu.Stack({string.Join(", ", stack.Members.Select(m => $"{host}.{m.Anchor.Module!.Name}"))})");
        if (module.Experts is { } experts && expert is not null)
        {
            // A dense layer among sparse ones has no experts.
            bool everyLayer = compiled.Graph.Nodes.First(n => n.Kind == IR.OpKind.Mixture).Predicate.IsAlways;
            fields.Add($"{experts.Name} = global::System.Array.ConvertAll({host}.{experts.Name}{(everyLayer ? "" : " ?? []")}, x => {Upload(expert, "x", null)})");
        }
        return $"new {DeviceWeights(module)} {{ {string.Join(", ", fields)} }}";
    }

    private static void WriteConstructor(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        using (writer.WriteBlock($"internal Gpu({context.ClassName} engine, global::Tessera.Gpu.GpuDevice device)"))
        {
            writer.WriteLine("_rank = engine._rank;");
            writer.WriteLine("_shape = engine.Shape;");
            if (!context.Sizes.IsSpecialised)
            {
                var config = context.Compiled.Model.Config;
                foreach (var field in config) writer.WriteLine($"{field.Name} = engine.{field.Name};");
                writer.WriteLine("TensorDegree = engine.TensorDegree;");
                var sizes = GpuKernelWriter.DeviceSizeFields(context.Compiled.Model).Select(f => f.Name).Concat(new[] { "TensorDegree" });
                writer.WriteLine($"_sizes = global::ILGPU.Runtime.SpecializedValue.New(new DeviceSizes({string.Join(", ", sizes)}));");
            }
            writer.WriteLine("TensorRank = engine.TensorRank;");
            writer.WriteLine("FirstLayer = engine.FirstLayer;");
            writer.WriteLine("EndLayer = engine.EndLayer;");
            if (context.Compiled.Expert is not null)
            {
                writer.WriteLine("FirstExpert = engine.FirstExpert;");
                writer.WriteLine("EndExpert = engine.EndExpert;");
            }
            string kv = context.Compiled.LocalKvWidth?.ToString() ?? "1";
            writer.WriteLine($"_gpu = new global::Tessera.Gpu.GpuStage(device, EndLayer - FirstLayer, {kv});");
            writer.WriteLine("// Every weight goes to the device now; the host copies go with the CPU engine once the caller drops it.");
            writer.WriteLine($"_weights = {Upload(context.Compiled.Root, "engine._weights", null)};");
            if (context.Compiled.Block is { } block)
                writer.WriteLine($"_layers = global::System.Array.ConvertAll(engine._layers, w => {Upload(block, "w", context.Compiled.Expert)});");
        }
    }

    /// <summary>The engine's members that the device answers: shape, bytes, caches, the whole forward, disposal.</summary>
    private static void WriteProperties(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public global::Tessera.ModelShape Shape => _shape;");
        writer.WriteLine("/// <summary>Device bytes of this rank's weights.</summary>");
        writer.WriteLine("public long WeightBytes => _gpu.WeightBytes;");
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public long WorkspaceBytes => _gpu.WorkspaceBytes;");
        writer.WriteLine("global::Tessera.Parallelism.RankContext global::Tessera.Parallelism.IRankProgram.Context => _rank;");
        writer.WriteLine("/// <summary>A sequence handle; its keys and values live on the device.</summary>");
        writer.WriteLine($"public global::Tessera.KvCache CreateCache() => global::Tessera.KvCache.CreateHandle({context.Compiled.Model.ContextField});");
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public float[] Forward(global::Tessera.TokenBatch batch) =>");
        writer.WriteLine("    _rank.IsWholeModel ? RunStage(batch)! : throw new global::System.InvalidOperationException(\"This engine is one rank of a parallel plan: run it through a ParallelEngine.\");");
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public void Dispose() => _gpu.Dispose();");
    }
}
