using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Cuda;

/// <summary>
/// The host side of the CUDA back end: each kernel of the compiled model as calls on a Tessera.Cuda.CudaStage —
/// cuBLAS for the products, launches of the generated CUDA C for the rest — in the same order and with the same
/// buffer plan as the CPU kernels (each CPU buffer slot is a device buffer of the same name).
/// </summary>
internal static class CudaHostWriter
{
    /// <param name="weights">the C# expression of the module's host weights ("_engine._weights" or "w")</param>
    public static void Write(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        writer.WriteLine($"// {kernel.Output.Name} (T, {module.Sharding.LocalWidth(kernel.Output)}) = {kernel.Describe()}");
        switch (kernel.Kind)
        {
            case KernelKind.Gather:
                WriteGatherLaunch(kernel, module, weights, writer);
                break;
            case KernelKind.MatMul:
                WriteProductLaunches(kernel, module, weights, writer);
                break;
            case KernelKind.Norm:
                WriteNormLaunch(kernel, module, weights, writer);
                break;
            case KernelKind.Rope:
                WriteRopeLaunch(kernel, module, writer);
                break;
            case KernelKind.Attention:
                WriteAttentionLaunches(kernel, module, writer);
                break;
            case KernelKind.Elementwise:
                WriteElementwiseLaunch(kernel, module, writer);
                break;
            case KernelKind.Chunk:
                WriteChunkLaunch(kernel, module, writer);
                break;
            default:
                throw new System.InvalidOperationException("The layers loop is stage glue, written by the engine writer.");
        }
    }

    /// <summary>The embedding gather (or two summed), one block per row.</summary>
    private static void WriteGatherLaunch(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string W(string suffix = "") => $"_gpu.Weight({weights}.{node.Module!.Name}{suffix})";
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        if (kernel.Fused.Count == 2)
        {
            var second = kernel.Fused[0];
            writer.WriteLine($"_gpu.LaunchRows({Name("gather")}, rows, {W()}, {IdsOf(node)}, _gpu.Weight({weights}.{second.Module!.Name}), {IdsOf(second)}, {site.Buf(kernel.Output)});");
        }
        else
        {
            writer.WriteLine($"_gpu.LaunchRows({Name("gather")}, rows, {W()}, {IdsOf(node)}, {site.Buf(kernel.Output)});");
        }
    }

    /// <summary>
    /// A product on cuBLAS, its all-reduce when row-parallel, then its epilogue; the head multiplies only the rows
    /// whose logits are wanted and brings the logits back to the host.
    /// </summary>
    private static void WriteProductLaunches(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var sharding = module.Sharding;
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string W(string suffix = "") => $"_gpu.Weight({weights}.{node.Module!.Name}{suffix})";
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        var linear = node.Module!;
        var slice = sharding.SliceOf(node);
        var inFeatures = sharding.LocalIn(node);
        var outFeatures = sharding.LocalOut(node);
        string output = site.Buf(kernel.Output), input = site.Buf(node.Inputs[0]), rows = "rows";
        if (kernel.IsHead)
        {
            // The head multiplies only the rows whose logits are wanted (the last of each sequence in a prefill).
            writer.WriteLine("int logitRows = batch.LogitRows.Length;");
            writer.WriteLine($"var headInput = _gpu.LogitRowsOf({input}, batch, {inFeatures});");
            writer.WriteLine($"var headOutput = _gpu.Slot(\"head_output\", (long)logitRows * ({outFeatures}));");
            (output, input, rows) = ("headOutput", "headInput", "logitRows");
        }
        writer.WriteLine($"_gpu.Gemm({output}, {input}, {W()}, {rows}, {outFeatures}, {inFeatures});");
        if (slice == WeightSlice.Columns)
            writer.WriteLine($"_gpu.AllReduce({output}, {rows} * ({outFeatures}), _rank.Tensor);");
        if (CudaKernelWriter.HasEpilogue(kernel))
        {
            var args = new List<string> { output, $"(long){rows} * ({outFeatures})" };
            if (linear.Bias) args.Add(W("Bias"));
            args.AddRange(CudaKernelWriter.EpilogueOperands(kernel).Select(site.Buf));
            writer.WriteLine($"_gpu.LaunchElements({Name("epilogue")}, (long){rows} * ({outFeatures}), {string.Join(", ", args)});");
        }
        if (kernel.IsHead)
        {
            writer.WriteLine("// The logits come back to the host; a vocab-sharded head gathers every rank's columns first.");
            writer.WriteLine(sharding[kernel.Output].Padded
                ? $"var logits = _gpu.Logits(headOutput, logitRows, {outFeatures}, _rank.Tensor, vocab: {linear.Out});"
                : $"var logits = _gpu.Logits(headOutput, logitRows, {outFeatures}, _rank.Tensor);");
        }
    }

    /// <summary>The norm kernel, one block per row.</summary>
    private static void WriteNormLaunch(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string W(string suffix = "") => $"_gpu.Weight({weights}.{node.Module!.Name}{suffix})";
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        writer.WriteLine(node.Kind == OpKind.RmsNorm
            ? $"_gpu.LaunchRows({Name("rmsnorm")}, rows, {site.Buf(node.Inputs[0])}, {W()}, {site.Buf(node.Output)});"
            : $"_gpu.LaunchRows({Name("layernorm")}, rows, {site.Buf(node.Inputs[0])}, {W()}, {W("Bias")}, {site.Buf(node.Output)});");
    }

    /// <summary>RoPE in place (on a copy of its input when that is still needed).</summary>
    private static void WriteRopeLaunch(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var sharding = module.Sharding;
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        if (!kernel.InPlace)
            writer.WriteLine($"_gpu.Floats(\"{site.Buf(node.Output)}\", _gpu.Download({site.Buf(node.Inputs[0])}, rows * ({sharding.LocalWidth(node.Inputs[0])})), rows * ({sharding.LocalWidth(node.Inputs[0])}));");
        writer.WriteLine($"_gpu.LaunchRows({Name("rope")}, rows, {site.Buf(node.Output)}, positions);");
    }

    /// <summary>The cache append, then attention with one block per (row, query head).</summary>
    private static void WriteAttentionLaunches(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        writer.WriteLine("var (keyRows, valueRows) = _gpu.CacheRows(batch, layer, FirstLayer);");
        writer.WriteLine($"_gpu.LaunchRows({Name("kv_append")}, rows, {site.Buf(node.Inputs[1])}, {site.Buf(node.Inputs[2])}, keyRows, valueRows, positions);");
        writer.WriteLine($"_gpu.LaunchAttention({Name("attention")}, rows, {site.Heads(0, 0)}, global::Tessera.Cuda.CudaStage.LongestContext(batch), {site.Buf(node.Inputs[0])}, {site.Buf(node.Output)}, keyRows, valueRows, positions);");
    }

    /// <summary>A fused element-wise loop.</summary>
    private static void WriteElementwiseLaunch(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        string count = $"(long)rows * ({site.Local(kernel.Output)})";
        var args = new List<string> { site.Buf(kernel.Output), count };
        args.AddRange(kernel.Inputs.Select(site.Buf));
        writer.WriteLine($"_gpu.LaunchElements({Name("elementwise")}, {count}, {string.Join(", ", args)});");
    }

    /// <summary>A feature-axis slice, one block per row.</summary>
    private static void WriteChunkLaunch(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string Name(string suffix) => $"\"{CudaKernelNames.Of(kernel, module, suffix)}\"";
        writer.WriteLine($"_gpu.LaunchRows({Name("chunk")}, rows, {site.Buf(node.Inputs[0])}, {site.Buf(node.Output)});");
    }

    private static string IdsOf(IrNode gather) => gather.Kind == OpKind.PositionEmbedding ? "positions" : "tokens";
}
