using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends.Cuda;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes <c>OnCuda(context, kernels)</c> and the nested <c>Gpu</c> rank program: the same stage program as the CPU
/// engine (receive or embed, the layers, send or head), with device buffers, cuBLAS and the generated CUDA kernels.
/// It takes its sizes, plan and host weights from the CPU engine it is made from (weights upload on first use).
/// </summary>
internal static class CudaEngineWriter
{
    public static void Write(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        WriteProgramOfThisRank(context, writer);
        writer.WriteLine();
        writer.WriteLine("/// <summary>This rank on a CUDA device (several virtual devices may share one GPU, each with its own stream).</summary>");
        writer.WriteLine("public Gpu OnCuda(global::Tessera.Cuda.CudaContext context, global::Tessera.Cuda.KernelCache kernels) => new(this, context, kernels);");
        writer.WriteLine();
        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// The CUDA rank program: matrix products on cuBLAS, everything else in the generated kernels of");
        writer.WriteLine("/// <see cref=\"CudaKernels\"/>, one buffer per CPU workspace slot. Between virtual devices on one GPU,");
        writer.WriteLine("/// collectives and stage boundaries stay on the device.");
        writer.WriteLine("/// </summary>");
        using (writer.WriteBlock("public sealed class Gpu : global::Tessera.ITransformerEngine, global::Tessera.Parallelism.IRankProgram, global::System.IDisposable"))
        {
            WriteGpuFields(context, writer);
            writer.WriteLine();
            WriteGpuConstructor(context, writer);
            writer.WriteLine();
            WriteGpuProperties(context, writer);
            writer.WriteLine();
            WriteRunStage(context, writer);
            if (context.Compiled.Block is { } block)
            {
                writer.WriteLine();
                WriteBlock(context, block, writer);
            }
        }
    }

    /// <summary>The engine's CUDA C with its sizes: defined at load time (shape-generic), or already in the text.</summary>
    private static void WriteProgramOfThisRank(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        if (context.Sizes.IsSpecialised)
        {
            writer.WriteLine("private string CudaProgramOfThisRank() => global::Tessera.Cuda.CudaPrelude.Source + CudaKernels;");
            return;
        }
        writer.WriteLine("/// <summary>This rank's CUDA program: the kernels with the sizes it was loaded with (and its tensor degree) defined.</summary>");
        using (writer.WriteBlock("private string CudaProgramOfThisRank()"))
        {
            CudaSourceWriter.WriteProgramWithDefines(context.Compiled.Model, "TensorDegree", writer);
        }
    }

    /// <summary>The CPU engine it runs for, the device stage, and (shape-generic) the sizes copied from the engine.</summary>
    private static void WriteGpuFields(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        writer.WriteLine($"private readonly {context.ClassName} _engine;");
        writer.WriteLine("private readonly global::Tessera.Parallelism.RankContext _rank;");
        writer.WriteLine("private readonly global::Tessera.Cuda.CudaStage _gpu;");
        writer.WriteLine("private readonly object _gate = new();");
        if (!context.Sizes.IsSpecialised)
        {
            foreach (var field in context.Compiled.Model.Config)
                writer.WriteLine($"private readonly {SizeBinding.TypeOf(field.Kind)} {field.Name};");
            writer.WriteLine("private readonly int TensorDegree;");
        }
        writer.WriteLine("private readonly int TensorRank, FirstLayer, EndLayer;");
    }

    private static void WriteGpuConstructor(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        using (writer.WriteBlock($"internal Gpu({context.ClassName} engine, global::Tessera.Cuda.CudaContext context, global::Tessera.Cuda.KernelCache kernels)"))
        {
            writer.WriteLine("_engine = engine;");
            writer.WriteLine("_rank = engine._rank;");
            if (!context.Sizes.IsSpecialised)
            {
                foreach (var field in context.Compiled.Model.Config) writer.WriteLine($"{field.Name} = engine.{field.Name};");
                writer.WriteLine("TensorDegree = engine.TensorDegree;");
            }
            writer.WriteLine("TensorRank = engine.TensorRank;");
            writer.WriteLine("FirstLayer = engine.FirstLayer;");
            writer.WriteLine("EndLayer = engine.EndLayer;");
            string kv = context.Compiled.LocalKvWidth?.ToString() ?? "1";
            writer.WriteLine($"_gpu = new global::Tessera.Cuda.CudaStage(context, engine.CudaProgramOfThisRank(), kernels, EndLayer - FirstLayer, {kv});");
        }
    }

    /// <summary>The engine's members that the device answers: shape, bytes, caches, the whole forward, disposal.</summary>
    private static void WriteGpuProperties(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public global::Tessera.ModelShape Shape => _engine.Shape;");
        writer.WriteLine("/// <summary>Device bytes of the weights used so far (they upload on first use).</summary>");
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

    private static void WriteRunStage(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var root = compiled.Root;
        writer.WriteLine("/// <inheritdoc/>");
        using (writer.WriteBlock("public float[]? RunStage(global::Tessera.TokenBatch batch)"))
        using (writer.WriteBlock("lock (_gate)"))
        {
            writer.WriteLine("int rows = batch.Rows;");
            WriteSlots(root, writer);
            writer.WriteLine("var tokens = _gpu.Ints(\"tokens\", batch.Tokens);");
            writer.WriteLine("var positions = _gpu.Ints(\"positions\", batch.Positions);");
            var layers = root.LayersKernel;
            string check = $"global::Tessera.Cpu.CpuKernels.CheckTokenIds(batch.Tokens, {compiled.Vocab});";
            if (layers is null)
            {
                writer.WriteLine(check);
                WriteHead(context, root.Kernels, writer);
                return;
            }
            string width = compiled.Width.ToString();
            writer.WriteLine("global::Tessera.Cuda.CudaBuffer stageInput;");
            using (writer.WriteBlock("if (_rank.IsFirstStage)"))
            {
                writer.WriteLine(check);
                foreach (var kernel in root.Prologue) CudaHostWriter.Write(kernel, root, "_engine._weights", writer);
                writer.WriteLine($"stageInput = {root.Buffers[layers.Anchor.Inputs[0]]};");
            }
            using (writer.WriteBlock("else"))
                writer.WriteLine($"stageInput = _gpu.ReceiveActivations(_rank.Previous!, rows * ({width}));");
            string name = root.Buffers[layers.Output];
            writer.WriteLine($"global::Tessera.Cuda.CudaBuffer {name} = stageInput, {name}Spare = {root.Buffers.LayerSpare[layers.Output]};");
            using (writer.WriteBlock("for (int layer = FirstLayer; layer < EndLayer; layer++)"))
            {
                writer.WriteLine($"{layers.Anchor.LayersField!.BlockType}(layer, batch, {name}, {name}Spare, tokens, positions);");
                writer.WriteLine($"({name}, {name}Spare) = ({name}Spare, {name});");
            }
            using (writer.WriteBlock("if (!_rank.IsLastStage)"))
            {
                writer.WriteLine($"_gpu.SendActivations(_rank.Next!, {name}, rows * ({width}));");
                writer.WriteLine("batch.Commit();");
                writer.WriteLine("return null;");
            }
            WriteHead(context, root.Epilogue, writer);
        }
    }

    private static void WriteHead(EngineWriter.EngineContext context, IEnumerable<Kernel> kernels, IndentedTextWriter writer)
    {
        foreach (var kernel in kernels) CudaHostWriter.Write(kernel, context.Compiled.Root, "_engine._weights", writer);
        writer.WriteLine("batch.Commit();");
        writer.WriteLine("return logits;");
    }

    private static void WriteBlock(EngineWriter.EngineContext context, CompiledModule block, IndentedTextWriter writer)
    {
        writer.WriteLine($"/// <summary>One {block.Module.TypeName} on the device.</summary>");
        using (writer.WriteBlock($"private void {block.Module.TypeName}(int layer, global::Tessera.TokenBatch batch, global::Tessera.Cuda.CudaBuffer input, global::Tessera.Cuda.CudaBuffer output, global::Tessera.Cuda.CudaBuffer tokens, global::Tessera.Cuda.CudaBuffer positions)"))
        {
            writer.WriteLine("var w = _engine._layers[layer - FirstLayer];");
            writer.WriteLine("int rows = batch.Rows;");
            WriteSlots(block, writer);
            foreach (var kernel in block.Kernels) CudaHostWriter.Write(kernel, block, "w", writer);
        }
    }
}
