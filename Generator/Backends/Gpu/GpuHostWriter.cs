using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Gpu;

/// <summary>
/// The host side of the GPU back end: each kernel of the compiled model as calls on a Tessera.Gpu.GpuStage — its
/// products (cuBLAS or the runtime's), launches of the generated <c>DeviceKernels</c> for the rest — in the same
/// order and with the same buffer plan as the CPU kernels (each CPU buffer slot is a device buffer of the same name).
/// </summary>
internal static class GpuHostWriter
{
    /// <param name="weights">the C# expression of the module's device weights ("_weights" or "w")</param>
    /// <param name="sizes">the launch's leading sizes argument ("_sizes, " for a shape-generic engine, else "")</param>
    /// <param name="kernels">the model's device kernel methods, by launch</param>
    /// <param name="stacked">a product already computed by its stack (<see cref="WriteStack"/>): only its epilogue remains</param>
    public static void Write(Kernel kernel, CompiledModule module, string weights, string sizes, GpuKernelWriter.DeviceKernelCatalog kernels, IndentedTextWriter writer,
        bool stacked = false)
    {
        writer.WriteLine($"// {kernel.Output.Name} (T, {module.Sharding.LocalWidth(kernel.Output)}) = {kernel.Describe()}{(stacked ? "  [product stacked above]" : "")}");
        var launch = new Launcher(kernel, sizes, kernels);
        switch (kernel.Kind)
        {
            case KernelKind.Gather:
                WriteGather(kernel, module, weights, launch, writer);
                break;
            case KernelKind.MatMul:
                WriteProduct(kernel, module, weights, launch, writer, stacked);
                break;
            case KernelKind.Norm:
                WriteNorm(kernel, module, weights, launch, writer);
                break;
            case KernelKind.Rope:
                WriteRope(kernel, module, launch, writer);
                break;
            case KernelKind.Attention:
                WriteAttention(kernel, module, launch, writer);
                break;
            case KernelKind.Elementwise:
                WriteElementwise(kernel, module, launch, writer);
                break;
            case KernelKind.Chunk:
                writer.WriteLine(launch.Line("Chunk", "_gpu.Rows(rows)", Buf(kernel, module, kernel.Anchor.Inputs[0]), Buf(kernel, module, kernel.Output)));
                break;
            case KernelKind.Route:
                WriteRoute(kernel, module, writer);
                break;
            case KernelKind.Mixture:
                WriteMixture(kernel, module, writer);
                break;
            case KernelKind.Select:
                WriteSelect(kernel, module, writer);
                break;
            default:
                throw new System.InvalidOperationException("The layers loop is stage glue, written by the engine writer.");
        }
    }

    /// <summary>Launch statements of one kernel's generated device code.</summary>
    private readonly struct Launcher(Kernel kernel, string sizes, GpuKernelWriter.DeviceKernelCatalog kernels)
    {
        public string Line(string op, string shape, params string[] arguments) =>
            $"_gpu.Launch(DeviceKernels.{kernels.NameOf(kernel, op)}, {shape}, {sizes}{string.Join(", ", arguments)});";
    }

    private static string Buf(Kernel kernel, CompiledModule module, IrValue value) => new KernelSite(kernel, module).Buf(value);

    /// <summary>The embedding gather (or two summed), a group per row.</summary>
    private static void WriteGather(Kernel kernel, CompiledModule module, string weights, Launcher launch, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        string output = Buf(kernel, module, kernel.Output);
        string table = $"{weights}.{node.Module!.Name}";
        if (kernel.Fused.Count == 2)
        {
            var second = kernel.Fused[0];
            writer.WriteLine(launch.Line("Gather", "_gpu.Rows(rows)", table, IdsOf(node), $"{weights}.{second.Module!.Name}", IdsOf(second), output));
        }
        else
        {
            writer.WriteLine(launch.Line("Gather", "_gpu.Rows(rows)", table, IdsOf(node), output));
        }
    }

    /// <summary>
    /// A product, its all-reduce when row-parallel, then its epilogue; the head multiplies only the rows whose logits
    /// are wanted and brings the logits back to the host.
    /// </summary>
    private static void WriteProduct(Kernel kernel, CompiledModule module, string weights, Launcher launch, IndentedTextWriter writer, bool stacked)
    {
        var sharding = module.Sharding;
        var node = kernel.Anchor;
        var linear = node.Module!;
        string W(string suffix = "") => $"{weights}.{linear.Name}{suffix}";
        var inFeatures = sharding.LocalIn(node);
        var outFeatures = sharding.LocalOut(node);
        string output = Buf(kernel, module, kernel.Output), input = Buf(kernel, module, node.Inputs[0]), rows = "rows";
        if (kernel.IsHead)
        {
            // The head multiplies only the rows whose logits are wanted (the last of each sequence in a prefill).
            writer.WriteLine("int logitRows = batch.LogitRows.Length;");
            writer.WriteLine($"var headInput = _gpu.LogitRowsOf({input}, batch, {inFeatures});");
            writer.WriteLine($"var headOutput = _gpu.Slot(\"head_output\", (long)logitRows * ({outFeatures}));");
            (output, input, rows) = ("headOutput", "headInput", "logitRows");
        }
        if (!stacked) writer.WriteLine($"_gpu.Gemm({output}, {input}, {W()}, {rows}, {outFeatures}, {inFeatures});");
        if (sharding.SliceOf(node) == WeightSlice.Columns)
            writer.WriteLine($"_gpu.AllReduce({output}, {rows} * ({outFeatures}), _rank.Tensor);");
        if (kernel.HasEpilogue)
        {
            string count = $"(long){rows} * ({outFeatures})";
            var args = new List<string> { output, count };
            if (linear.Bias) args.Add(W("Bias"));
            args.AddRange(kernel.EpilogueOperands.Select(o => Buf(kernel, module, o)));
            args.AddRange(Scalars(kernel.Fused));
            writer.WriteLine(launch.Line("Epilogue", $"_gpu.Elements({count})", args.ToArray()));
        }
        if (kernel.IsHead)
        {
            writer.WriteLine("// The logits come back to the host; a vocab-sharded head gathers every rank's columns first.");
            writer.WriteLine(sharding[kernel.Output].Padded
                ? $"var logits = _gpu.Logits(headOutput, logitRows, {outFeatures}, _rank.Tensor, vocab: {linear.Out});"
                : $"var logits = _gpu.Logits(headOutput, logitRows, {outFeatures}, _rank.Tensor);");
        }
    }

    /// <summary>
    /// A stack of products of one input (<see cref="StackedProducts"/>): one product over the stacked weights, each
    /// member's columns into its own buffer. The members' epilogues follow at their own places.
    /// </summary>
    public static void WriteStack(StackedProducts.Stack stack, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var first = stack.First;
        var sharding = module.Sharding;
        writer.WriteLine($"// {string.Join(", ", stack.Members.Select(m => m.Anchor.Output.Name))} = {string.Join(", ", stack.Members.Select(m => m.Anchor.Module!.Name + "(" + first.Anchor.Inputs[0].Name + ")"))}: one product over the stacked weights (the input and the weights read in one pass)");
        var outputs = stack.Members.Select(m => $"({Buf(m, module, m.Output)}, {sharding.LocalOut(m.Anchor)})");
        writer.WriteLine($"_gpu.Gemm({Buf(first, module, first.Anchor.Inputs[0])}, {weights}.{stack.Name}, rows, {sharding.LocalIn(first.Anchor)}, {string.Join(", ", outputs)});");
    }

    /// <summary>The norm kernel, a group per row.</summary>
    private static void WriteNorm(Kernel kernel, CompiledModule module, string weights, Launcher launch, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        string W(string suffix = "") => $"{weights}.{node.Module!.Name}{suffix}";
        string x = Buf(kernel, module, node.Inputs[0]), output = Buf(kernel, module, node.Output);
        // A per-head norm: each head of each row is a row of its own.
        string rows = node.Module!.PerHead ? $"_gpu.Rows(rows * ({new KernelSite(kernel, module).NormGroups}))" : "_gpu.Rows(rows)";
        writer.WriteLine(node.Kind == OpKind.RmsNorm
            ? launch.Line("RmsNorm", rows, x, W(), output)
            : launch.Line("LayerNorm", rows, x, W(), W("Bias"), output));
    }

    /// <summary>RoPE in place (on a copy of its input when that is still needed), with the uploaded cos/sin table.</summary>
    private static void WriteRope(Kernel kernel, CompiledModule module, Launcher launch, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string output = site.Buf(node.Output);
        if (!kernel.InPlace)
            writer.WriteLine($"_gpu.Copy({site.Buf(node.Inputs[0])}, {output}, (long)rows * ({site.Local(node.Inputs[0])}));");
        string angles = kernel.Output.Name.TrimStart('_') + "Angles";
        string headDim = site.HeadDim.ToString();
        writer.WriteLine($"var {angles} = _gpu.RopeTable({headDim}, {node.Arguments[1]}, batch{site.RopeOptions});");
        writer.WriteLine(launch.Line("Rope", "_gpu.Rows(rows)", output, "positions", $"{angles}.Cos", $"{angles}.Sin", $"{angles}.Pairs"));
    }

    /// <summary>The cache append, then attention with a group per (row, kv head, split), then the splits merged.</summary>
    private static void WriteAttention(Kernel kernel, CompiledModule module, Launcher launch, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string cache = kernel.Output.Name.TrimStart('_') + "Cache";
        writer.WriteLine($"var {cache} = _gpu.Cache(cacheSlots, layer - FirstLayer);");
        writer.WriteLine(launch.Line("KvAppend", "_gpu.Rows(rows)", site.Buf(node.Inputs[1]), site.Buf(node.Inputs[2]), cache, "positions"));
        string headDim = site.HeadDim.ToString();
        string split = kernel.Output.Name.TrimStart('_') + "Splits";
        writer.WriteLine($"var {split} = _gpu.Attention(batch, {site.Heads(1, 1)}, ({site.Heads(0, 0)}) / ({site.Heads(1, 1)}), {headDim});");
        // The scores' scale (1/√d unless the model gives one), soft-cap (0: none) and sliding window (0: none).
        string scale = node.Arguments[2].ToString() == "0" ? $"1.0f / global::System.MathF.Sqrt({headDim})" : $"(float)({node.Arguments[2]})";
        writer.WriteLine(launch.Line("Attention", $"{split}.Config", site.Buf(node.Inputs[0]), site.Buf(node.Output), cache, "positions", $"{split}.Chunk", $"{split}.Partials",
            scale, node.Arguments[3].ToString() == "0" ? "0f" : $"(float)({node.Arguments[3]})", node.Arguments[4].ToString()));
        writer.WriteLine($"_gpu.CombineAttention({split}, {site.Buf(node.Output)}, {site.Local(node.Output)});");
    }

    /// <summary>A fused element-wise loop, grid-stride.</summary>
    private static void WriteElementwise(Kernel kernel, CompiledModule module, Launcher launch, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        string count = $"(long)rows * ({site.Local(kernel.Output)})";
        var args = new List<string> { site.Buf(kernel.Output), count };
        args.AddRange(kernel.Inputs.Select(site.Buf));
        args.AddRange(Scalars(kernel.Nodes));
        writer.WriteLine(launch.Line("Elementwise", $"_gpu.Elements({count})", args.ToArray()));
    }

    /// <summary>The scalar arguments of a kernel's element-wise steps (caps, factors), evaluated here: they may differ by layer.</summary>
    private static IEnumerable<string> Scalars(IEnumerable<IrNode> steps) =>
        GpuKernelWriter.ScalarSteps(steps).Select(step => $"(float)({step.Arguments[0]})");

    /// <summary>The side of a Select its condition picks: nothing when both were computed into its buffer, else a copy.</summary>
    private static void WriteSelect(Kernel kernel, CompiledModule module, IndentedTextWriter writer) =>
        writer.WriteLine(new KernelSite(kernel, module).SelectCopy((chosen, output, count) => $"_gpu.Copy({chosen}, {output}, (long){count});"));

    /// <summary>A router's top-k on the device: the decision stays there for the mixture.</summary>
    private static void WriteRoute(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        string routing = RoutingOf(node.Output);
        writer.WriteLine($"var {routing} = _gpu.Route({Buf(kernel, module, node.Inputs[0])}, rows, {node.Inputs[0].Width}, {node.Arguments[0]}, renormalize: {node.Arguments[1]}, \"{routing}\");");
    }

    /// <summary>
    /// The mixture with dense dispatch: every held expert runs over all the rows and is weighted into the rows that
    /// chose it, so the routing never goes back to the host (no per-layer synchronisation), at E / k times the
    /// product work of running each expert over its own tokens only (the CPU's sparse dispatch).
    /// </summary>
    private static void WriteMixture(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        string output = Buf(kernel, module, kernel.Output), width = node.Output.Width.ToString();
        writer.WriteLine("// Dense dispatch: every held expert over every row, weighted into the rows that chose it, so the routing");
        writer.WriteLine("// stays on the device (E / k times the expert work of the CPU's sparse dispatch; no host round trip).");
        writer.WriteLine($"var expertOutput = _gpu.Slot(\"mixture_expert_output\", (long)rows * ({width}));");
        writer.WriteLine($"_gpu.Clear({output}, (long)rows * ({width}));");
        using (writer.WriteBlock("for (int expert = FirstExpert; expert < EndExpert; expert++)"))
        {
            writer.WriteLine($"{node.ExpertsField!.BlockType}(layer, expert, rows, {Buf(kernel, module, node.Inputs[0])}, expertOutput);");
            writer.WriteLine($"_gpu.AddExpert({output}, expertOutput, {RoutingOf(node.Inputs[1])}, expert, {width});");
        }
    }

    /// <summary>The local holding a routing value's decision on the device.</summary>
    private static string RoutingOf(IrValue routing) => routing.Name.TrimStart('_');

    private static string IdsOf(IrNode gather) => gather.Kind == OpKind.PositionEmbedding ? "positions" : "tokens";
}
