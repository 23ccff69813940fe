using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Gpu;

/// <summary>
/// The GPU back end's kernels, in C# for ILGPU: every kernel of a compiled model except the matrix products (cuBLAS
/// on a GPU, the runtime's library kernels elsewhere) — embedding gathers, norms, RoPE, the KV-cache append and
/// attention, the element-wise epilogues fused after each product, fused element-wise loops and feature-axis slices.
/// Sizes are named as in the CPU kernels: a specialised unit's are its constants; the shape-generic engine's come in a
/// <c>SpecializedValue&lt;DeviceSizes&gt;</c>, which ILGPU compiles into the kernel as constants, one PTX per config.
/// Each kernel is written for a GPU (a group per row or per (row, head), coalesced loops over the feature axis) and
/// for any group and warp size, since the CPU accelerator that tests them has groups of 4 and warps of 2.
/// </summary>
internal static class GpuKernelWriter
{
    private const string Floats = "global::ILGPU.ArrayView<float>";
    private const string Ints = "global::ILGPU.ArrayView<int>";
    private const string GroupMath = "global::Tessera.Gpu.GpuGroup";
    private const string ScalarMath = "global::Tessera.Gpu.GpuMath";
    private const string XMath = "global::ILGPU.Algorithms.XMath";
    private const string RowIndices = "int row = global::ILGPU.Grid.IdxX, thread = global::ILGPU.Group.IdxX, threads = global::ILGPU.Group.DimX;";
    private const string GridStride = "long stride = (long)global::ILGPU.Grid.DimX * global::ILGPU.Group.DimX;";
    private const string GridStrideLoop = "for (long i = global::ILGPU.Grid.GlobalIndex.X; i < count; i += stride)";

    /// <summary>
    /// The <c>DeviceKernels</c> class: one static kernel method per distinct device kernel of the model. Kernels with the
    /// same op, parameters and body (the norms of every layer and the head's, over the same width) are one method,
    /// named by its op; a kernel of one use is named by where it sits and what it makes (BlockQRope).
    /// </summary>
    /// <param name="catalog">the model's device kernel methods (<see cref="Catalog"/>, made once for the kernels and their launches)</param>
    public static void Write(ModelInfo model, DeviceKernelCatalog catalog, bool specialised, IndentedTextWriter writer)
    {
        writer.WriteLine("/// <summary>");
        writer.WriteLine($"/// The device kernels of {model.Type.Name} (ILGPU, C#): the launches in <see cref=\"Gpu\"/> run them, on a CUDA GPU or");
        writer.WriteLine("/// ILGPU's CPU accelerator. Matrix products are not here: cuBLAS or the runtime's product kernels run them.");
        writer.WriteLine(specialised
            ? "/// Sizes are this unit's constants, folded into the compiled kernels."
            : "/// Sizes come in <see cref=\"DeviceSizes\"/>, a specialised value: ILGPU compiles them in as constants.");
        writer.WriteLine("/// </summary>");
        using (writer.WriteBlock("public static class DeviceKernels"))
        {
            var methods = catalog.Methods;
            for (int i = 0; i < methods.Count; i++)
            {
                if (i > 0) writer.WriteLine();
                var method = methods[i];
                Emit(method.Name, method.Summary, method.Parameters, method.Body, model, specialised, writer);
            }
        }
    }

    /// <summary>One kernel method: its name, summary, parameters and body.</summary>
    internal sealed record DeviceMethod(string Name, string Summary, string[] Parameters, string Body);

    /// <summary>The device kernel methods of a model and, for each kernel's launch (kernel, op), the method's name.</summary>
    internal sealed record DeviceKernelCatalog(List<DeviceMethod> Methods, Dictionary<(Kernel Kernel, string Op), string> Names)
    {
        public string NameOf(Kernel kernel, string op) => Names[(kernel, op)];
    }

    /// <summary>Every device kernel of the model, identical ones merged (see <see cref="Write"/>).</summary>
    public static DeviceKernelCatalog Catalog(CompiledModel compiled)
    {
        var uses = new List<(Kernel Kernel, CompiledModule Module, string Op, string Summary, string Shape, string[] Parameters, string Body)>();
        // The name of a method several kernels share: what it does, not where it sits.
        static string SharedName(Kernel kernel, string op) => kernel.Kind switch
        {
            KernelKind.MatMul => (kernel.Anchor.Module!.Bias ? "Bias" : "") + string.Concat(kernel.Fused.Select(f => f.Kind)) + "Epilogue",
            KernelKind.Elementwise => string.Concat(kernel.Nodes.Select(n => n.Kind)),
            _ => op,
        };
        foreach (var module in new[] { compiled.Root, compiled.Block, compiled.Expert })
        {
            if (module is null) continue;
            foreach (var kernel in module.Kernels.Where(Writes))
            {
                string summary = $"{kernel.Output.Name} (T, {module.Sharding.LocalWidth(kernel.Output)}) = {kernel.Describe()}";
                if (kernel.Kind == KernelKind.Attention)
                {
                    var append = KvAppend(kernel, module);
                    uses.Add((kernel, module, append.Op, $"(1/2) {summary}: this batch's keys and values into the cache", append.Shape, append.Parameters, append.Body));
                    var attention = Attention(kernel, module);
                    uses.Add((kernel, module, attention.Op, $"(2/2) {summary}", attention.Shape, attention.Parameters, attention.Body));
                    continue;
                }
                var (op, parameters, body, shape) = kernel.Kind switch
                {
                    KernelKind.Gather => Gather(kernel, module),
                    KernelKind.MatMul => Epilogue(kernel, module),
                    KernelKind.Norm => Norm(kernel),
                    KernelKind.Rope => Rope(kernel, module),
                    KernelKind.Elementwise => Elementwise(kernel, module),
                    KernelKind.Chunk => Chunk(kernel, module),
                    _ => throw new System.InvalidOperationException($"No device kernel for {kernel.Kind}."),
                };
                uses.Add((kernel, module, op, summary, shape, parameters, body));
            }
        }
        var methods = new List<DeviceMethod>();
        var names = new Dictionary<(Kernel, string), string>();
        var groups = uses.GroupBy(u => (u.Op, Signature: string.Join(", ", u.Parameters), u.Body)).ToList();
        var sharedOps = groups.Where(g => g.Count() > 1).GroupBy(g => SharedName(g.First().Kernel, g.Key.Op)).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var group in groups)
        {
            var first = group.First();
            string name;
            string summary;
            if (group.Count() == 1)
            {
                name = GpuKernelNames.Of(first.Kernel, first.Module, first.Op);
                summary = $"{first.Summary}: {first.Shape}.";
            }
            else
            {
                string shared = SharedName(first.Kernel, first.Op);
                var same = sharedOps[shared];
                name = same.Count == 1 ? shared : shared + (same.IndexOf(group) + 1);
                summary = $"{string.Join("; ", group.Select(u => u.Summary))}: {first.Shape}.";
            }
            methods.Add(new DeviceMethod(name, summary, first.Parameters, first.Body));
            foreach (var use in group) names[(use.Kernel, use.Op)] = name;
        }
        return new DeviceKernelCatalog(methods, names);
    }

    /// <summary>Whether a kernel has device code of its own (a product without an epilogue is all cuBLAS).</summary>
    public static bool Writes(Kernel kernel) => kernel.Kind switch
    {
        KernelKind.MatMul => kernel.HasEpilogue,
        KernelKind.Gather or KernelKind.Norm or KernelKind.Rope or KernelKind.Attention or KernelKind.Elementwise or KernelKind.Chunk => true,
        _ => false,
    };

    /// <summary>The <c>DeviceSizes</c> record of a shape-generic engine: every size a kernel may name.</summary>
    public static void WriteSizesRecord(ModelInfo model, IndentedTextWriter writer)
    {
        writer.WriteLine("/// <summary>The sizes the device kernels read: passed as a specialised value, so ILGPU folds them as constants.</summary>");
        var fields = DeviceSizeFields(model).Select(f => $"{SizeType(f)} {f.Name}").Concat(new[] { "int TensorDegree" });
        writer.WriteLine($"public readonly record struct DeviceSizes({string.Join(", ", fields)});");
    }

    /// <summary>
    /// The config fields a kernel may name as sizes, in DeviceSizes' order; then TensorDegree. Booleans, RoPE scalings and
    /// per-layer values decide on the host (a kernel gets what it needs of them as arguments).
    /// </summary>
    public static IEnumerable<ConfigFieldInfo> DeviceSizeFields(ModelInfo model) =>
        model.Config.Where(f => f.Kind is ConfigKind.Int or ConfigKind.Float && !f.PerLayer);

    private static string SizeType(ConfigFieldInfo field) => field.Kind == ConfigKind.Int ? "int" : "float";

    /// <summary>A kernel method: summary, signature (sizes first when generic), the sizes it names, then its body.</summary>
    private static void Emit(string name, string summary, IReadOnlyList<string> parameters, string body, ModelInfo model, bool specialised, IndentedTextWriter writer)
    {
        writer.WriteLine($"/// <summary>{summary}</summary>");
        var all = specialised ? parameters : new[] { "global::ILGPU.Runtime.SpecializedValue<DeviceSizes> sizes" }.Concat(parameters);
        using (writer.WriteBlock($"public static void {name}({string.Join(", ", all)})"))
        {
            if (!specialised)
            {
                foreach (var field in DeviceSizeFields(model))
                    if (Names(body, field.Name))
                        writer.WriteLine($"{SizeType(field)} {field.Name} = sizes.Value.{field.Name};");
                if (Names(body, "TensorDegree")) writer.WriteLine("int TensorDegree = sizes.Value.TensorDegree;");
            }
            writer.WriteLines(body);
        }
    }

    private static bool Names(string body, string name) => Regex.IsMatch(body, $@"(?<![\w.]){Regex.Escape(name)}\b");

    private static (string Op, string[] Parameters, string Body, string Shape) Gather(Kernel kernel, CompiledModule module)
    {
        string width = kernel.Anchor.Output.Width.ToString();
        bool sum = kernel.Fused.Count == 2;
        var parameters = sum
            ? new[] { $"{Floats} table", $"{Ints} ids", $"{Floats} table2", $"{Ints} ids2", $"{Floats} output" }
            : new[] { $"{Floats} table", $"{Ints} ids", $"{Floats} output" };
        string body = $$"""
            {{RowIndices}}
            long source = (long)ids[row] * ({{width}}){{(sum ? $", source2 = (long)ids2[row] * ({width})" : "")}};
            for (int i = thread; i < ({{width}}); i += threads)
                output[(long)row * ({{width}}) + i] = table[source + i]{{(sum ? " + table2[source2 + i]" : "")}};
            """;
        return ("Gather", parameters, body, sum ? "two embedding rows summed, a group per row" : "an embedding row, a group per row");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) Epilogue(Kernel kernel, CompiledModule module)
    {
        var linear = kernel.Anchor.Module!;
        string width = module.Sharding.LocalOut(kernel.Anchor).ToString();
        var parameters = new List<string> { $"{Floats} y", "long count" };
        if (linear.Bias) parameters.Add($"{Floats} bias");
        var operands = kernel.EpilogueOperands;
        string Operand(IrValue value) => $"in{operands.IndexOf(value)}";
        parameters.AddRange(operands.Select(o => $"{Floats} {Operand(o)}"));
        var scalars = ScalarSteps(kernel.Fused);
        parameters.AddRange(scalars.Select((_, n) => $"float s{n}"));
        var lines = new List<string> { GridStride, GridStrideLoop, "{", "    float v = y[i];" };
        if (linear.Bias) lines.Add($"    v += bias[i % ({width})];");
        var current = kernel.Anchor.Output;
        foreach (var step in kernel.Fused)
        {
            lines.Add($"    v = {Step(step, current, "v", Operand, width, $"s{scalars.IndexOf(step)}")};");
            current = step.Output;
        }
        lines.Add("    y[i] = v;");
        lines.Add("}");
        return ("Epilogue", parameters.ToArray(), string.Join("\n", lines), "in place over the product, grid-stride");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) Norm(Kernel kernel)
    {
        var node = kernel.Anchor;
        bool rms = node.Kind == OpKind.RmsNorm;
        string width = node.Module!.In!, eps = node.Module.Epsilon!;
        var parameters = rms
            ? new[] { $"{Floats} x", $"{Floats} weight", $"{Floats} output" }
            : new[] { $"{Floats} x", $"{Floats} weight", $"{Floats} bias", $"{Floats} output" };
        string body = rms
            ? $$"""
                {{RowIndices}}
                long offset = (long)row * ({{width}});
                float squares = 0.0f;
                for (int i = thread; i < ({{width}}); i += threads) squares += x[offset + i] * x[offset + i];
                float scale = {{XMath}}.Rsqrt({{GroupMath}}.Sum(squares) / ({{width}}) + {{eps}});
                for (int i = thread; i < ({{width}}); i += threads) output[offset + i] = x[offset + i] * scale * weight[i];
                """
            : $$"""
                {{RowIndices}}
                long offset = (long)row * ({{width}});
                float sum = 0.0f;
                for (int i = thread; i < ({{width}}); i += threads) sum += x[offset + i];
                float mean = {{GroupMath}}.Sum(sum) / ({{width}});
                float squares = 0.0f;
                for (int i = thread; i < ({{width}}); i += threads) squares += (x[offset + i] - mean) * (x[offset + i] - mean);
                float scale = {{XMath}}.Rsqrt({{GroupMath}}.Sum(squares) / ({{width}}) + {{eps}});
                for (int i = thread; i < ({{width}}); i += threads)
                    output[offset + i] = (x[offset + i] - mean) * scale * weight[i] + bias[i];
                """;
        return (rms ? "RmsNorm" : "LayerNorm", parameters, body, "a group per row, the statistics reduced over the group");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) Rope(Kernel kernel, CompiledModule module)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string width = site.Local(node.Inputs[0]).ToString();
        string headDim = site.HeadDim.ToString();
        var parameters = new[] { $"{Floats} x", $"{Ints} positions", $"{Floats} cos", $"{Floats} sin", "int half" };
        string body = $$"""
            {{RowIndices}}
            // rotate_half: pairs (j, j + half) of each head's first 2 half dimensions (the rest pass unchanged), by the CPU kernel's fp32 cos/sin table of (position, j).
            long angles = (long)positions[row] * half;
            for (int t = thread; t < ({{site.Heads(0, 0)}}) * half; t += threads)
            {
                int head = t / half, j = t % half;
                long h = (long)row * ({{width}}) + head * ({{headDim}});
                float a = x[h + j], b = x[h + j + half], c = cos[angles + j], s = sin[angles + j];
                x[h + j] = a * c - b * s;
                x[h + j + half] = b * c + a * s;
            }
            """;
        return ("Rope", parameters, body, "in place, a group per row, a thread per (head, pair)");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) KvAppend(Kernel kernel, CompiledModule module)
    {
        string kvWidth = module.Sharding.LocalWidth(kernel.Anchor.Inputs[1]).ToString();
        var parameters = new[] { $"{Floats} k", $"{Floats} v", "global::Tessera.Gpu.KvCacheView cache", $"{Ints} positions" };
        string body = $$"""
            {{RowIndices}}
            long target = cache.RowBase(row) + (long)positions[row] * ({{kvWidth}}), source = (long)row * ({{kvWidth}});
            for (int i = thread; i < ({{kvWidth}}); i += threads)
            {
                cache.Keys[target + i] = k[source + i];
                cache.Values[target + i] = v[source + i];
            }
            """;
        return ("KvAppend", parameters, body, "a group per row");
    }

    /// <summary>
    /// Causal attention over the cache with an online softmax, a group per (row, kv head) serving every query head
    /// that shares it (grouped-query attention): each key and value is read once for the group's heads. The context
    /// is walked in tiles of one position per thread (its key read once for all the heads); each tile's weights are
    /// taken against the running maximum and the output rescaled, so shared memory holds the queries and one tile,
    /// never the whole context. The output is accumulated a thread per (head, dimension), so consecutive threads read
    /// consecutive values. A long context is split over several groups (flash-decoding, the grid's third axis): each
    /// leaves unnormalised sums and its statistics, and a combine kernel of the runtime merges them.
    /// </summary>
    private static (string Op, string[] Parameters, string Body, string Shape) Attention(Kernel kernel, CompiledModule module)
    {
        var node = kernel.Anchor;
        var site = new KernelSite(kernel, module);
        string kvWidth = site.Local(node.Inputs[1]).ToString();
        string width = site.Local(node.Inputs[0]).ToString();
        string headDim = site.HeadDim.ToString();
        var parameters = new[]
        {
            $"{Floats} q", $"{Floats} output", "global::Tessera.Gpu.KvCacheView cache", $"{Ints} positions", "int chunk", $"{Floats} partials",
            "float scale", "float softCap", "int window",
        };
        string body = $$"""
            int row = global::ILGPU.Grid.IdxX, kvHead = global::ILGPU.Grid.IdxY, thread = global::ILGPU.Group.IdxX, threads = global::ILGPU.Group.DimX;
            int split = global::ILGPU.Grid.IdxZ, splits = global::ILGPU.Grid.DimZ; // flash-decoding: this group's share of the context
            int group = ({{site.Heads(0, 0)}}) / ({{site.Heads(1, 1)}}); // query heads sharing this kv head
            // Dynamic shared memory (sized by GpuStage.Attention): the group's queries, one tile of weights per head,
            // and per head the running maximum, the running sum and this tile's correction.
            var shared = global::ILGPU.SharedMemory.GetDynamic<float>();
            int queries = 0, weights = group * ({{headDim}}), maxima = weights + group * threads, sums = maxima + group, corrections = sums + group;
            // This split's positions of the ones the row sees: [context - window, context) with a sliding window.
            int context = positions[row] + 1, first = window > 0 ? global::System.Math.Max(0, context - window) : 0;
            int begin = global::System.Math.Max(first, split * chunk), end = global::System.Math.Min(context, split * chunk + chunk);
            long firstQuery = (long)row * ({{width}}) + (long)kvHead * group * ({{headDim}}), cached = cache.RowBase(row) + kvHead * ({{headDim}});
            // The weighted values add up in the output itself with one split, else in this split's partial sums.
            long partial = (((long)row * global::ILGPU.Grid.DimY + kvHead) * splits + split) * group * (({{headDim}}) + 2);
            var sum = splits == 1 ? output : partials;
            long at = splits == 1 ? firstQuery : partial;
            for (int i = thread; i < group * ({{headDim}}); i += threads)
            {
                shared[queries + i] = q[firstQuery + i];
                sum[at + i] = 0.0f;
            }
            for (int g = thread; g < group; g += threads)
            {
                shared[maxima + g] = float.NegativeInfinity;
                shared[sums + g] = 0.0f;
            }
            global::ILGPU.Group.Barrier();
            for (int start = begin; start < end; start += threads)
            {
                // Scores: one position per thread, its key read once for every head of the group.
                int p = start + thread;
                long key = cached + (long)p * ({{kvWidth}});
                for (int g = 0; g < group; g++)
                {
                    float dot = 0.0f;
                    if (p < end)
                        for (int i = 0; i < ({{headDim}}); i++) dot += shared[queries + g * ({{headDim}}) + i] * cache.Keys[key + i];
                    shared[weights + g * threads + thread] = p < end ? {{ScalarMath}}.SoftCap(dot * scale, softCap) : float.NegativeInfinity;
                }
                // Per head: the tile's weights against the new running maximum, and the statistics rescaled.
                for (int g = 0; g < group; g++)
                {
                    float score = shared[weights + g * threads + thread], runningMax = shared[maxima + g];
                    float max = global::System.Math.Max(runningMax, {{GroupMath}}.Max(score));
                    float weight = p < end ? {{XMath}}.Exp(score - max) : 0.0f;
                    shared[weights + g * threads + thread] = weight;
                    float tileSum = {{GroupMath}}.Sum(weight); // every thread has read the statistics of head g by now
                    if (thread == 0)
                    {
                        float correction = {{XMath}}.Exp(runningMax - max);
                        shared[corrections + g] = correction;
                        shared[sums + g] = shared[sums + g] * correction + tileSum;
                        shared[maxima + g] = max;
                    }
                }
                global::ILGPU.Group.Barrier(); // the weights and corrections are visible to every thread
                // Output: a thread per (head, dimension): rescale, then add this tile's weighted values.
                int tile = global::System.Math.Min(threads, end - start);
                for (int i = thread; i < group * ({{headDim}}); i += threads)
                {
                    int g = i / ({{headDim}});
                    long value = cached + i % ({{headDim}}) + (long)start * ({{kvWidth}});
                    float acc = sum[at + i] * shared[corrections + g];
                    for (int j = 0; j < tile; j++) acc += shared[weights + g * threads + j] * cache.Values[value + (long)j * ({{kvWidth}})];
                    sum[at + i] = acc;
                }
                global::ILGPU.Group.Barrier(); // the next tile rewrites the weights and statistics
            }
            if (splits == 1)
            {
                for (int i = thread; i < group * ({{headDim}}); i += threads) output[firstQuery + i] /= shared[sums + i / ({{headDim}})];
                return;
            }
            // A split leaves its statistics after its sums; GpuStage.CombineAttention merges the splits.
            for (int g = thread; g < group; g += threads)
            {
                partials[partial + group * ({{headDim}}) + g] = shared[maxima + g];
                partials[partial + group * ({{headDim}}) + group + g] = shared[sums + g];
            }
            """;
        return ("Attention", parameters, body, "a group per (row, kv head, split of the context) for the query heads sharing the kv head, online softmax over tiles");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) Elementwise(Kernel kernel, CompiledModule module)
    {
        var parameters = new List<string> { $"{Floats} output", "long count" };
        var inputs = kernel.Inputs.ToList();
        string Operand(IrValue value) => $"in{inputs.IndexOf(value)}";
        parameters.AddRange(inputs.Select(o => $"{Floats} {Operand(o)}"));
        var scalars = ScalarSteps(kernel.Nodes);
        parameters.AddRange(scalars.Select((_, n) => $"float s{n}"));
        string width = module.Sharding.LocalWidth(kernel.Output).ToString();
        var first = kernel.Anchor;
        // The running value starts as the first node's full-width operand (a per-token scalar is read by row).
        var start = first.Inputs.FirstOrDefault(i => !ShapeInference.IsScalarPerRow(i) || ShapeInference.IsScalarPerRow(kernel.Output)) ?? first.Inputs[0];
        var lines = new List<string>
        {
            GridStride, GridStrideLoop, "{", $"    float v = {Operand(start)}[i];", $"    v = {Step(first, start, "v", Operand, width, $"s{scalars.IndexOf(first)}")};",
        };
        var current = first.Output;
        foreach (var step in kernel.Fused)
        {
            lines.Add($"    v = {Step(step, current, "v", Operand, width, $"s{scalars.IndexOf(step)}")};");
            current = step.Output;
        }
        lines.Add("    output[i] = v;");
        lines.Add("}");
        return ("Elementwise", parameters.ToArray(), string.Join("\n", lines), $"fused {string.Join(", ", kernel.Nodes.Select(n => n.Kind))}, grid-stride");
    }

    private static (string Op, string[] Parameters, string Body, string Shape) Chunk(Kernel kernel, CompiledModule module)
    {
        var node = kernel.Anchor;
        var width = module.Sharding.LocalWidth(node.Inputs[0]);
        var part = SizeExpr.Divide(width, node.Arguments[1]);
        var parameters = new[] { $"{Floats} x", $"{Floats} output" };
        string body = $$"""
            {{RowIndices}}
            long source = (long)row * ({{width}}) + ({{node.Arguments[0]}}) * ({{part}}), target = (long)row * ({{part}});
            for (int i = thread; i < ({{part}}); i += threads) output[target + i] = x[source + i];
            """;
        return ("Chunk", parameters, body, "a slice of the feature axis, a group per row");
    }

    /// <summary>
    /// One element-wise step on the running value <paramref name="value"/> (the value of <paramref name="current"/>);
    /// the other values it reads are parameters named by position (in0, in1, ...: the launch passes them in that
    /// order), so kernels doing the same work on different values are one method. A per-token scalar operand is read
    /// at the element's row (i / width); a step's scalar argument (a cap, a factor) is the parameter
    /// <paramref name="scalar"/>, evaluated on the host (it may differ from layer to layer).
    /// </summary>
    private static string Step(IrNode step, IrValue current, string value, System.Func<IrValue, string> operand, string width, string scalar)
    {
        string Other(int i) => step.Inputs[i] == current ? value
            : ShapeInference.IsScalarPerRow(step.Inputs[i]) && !ShapeInference.IsScalarPerRow(step.Output) ? $"{operand(step.Inputs[i])}[i / ({width})]"
            : $"{operand(step.Inputs[i])}[i]";
        return step.Kind switch
        {
            OpKind.Silu => $"{ScalarMath}.Silu({value})",
            OpKind.Gelu => $"{ScalarMath}.Gelu({value})",
            OpKind.Sigmoid => $"{ScalarMath}.Sigmoid({value})",
            OpKind.SoftCap => $"{ScalarMath}.SoftCap({value}, {scalar})",
            OpKind.Scale => $"{value} * {scalar}",
            OpKind.Add => $"{Other(0)} + {Other(1)}",
            _ => $"{Other(0)} * {Other(1)}",
        };
    }

    /// <summary>The steps with a scalar argument (SoftCap's cap, Scale's factor), in order: their parameters s0, s1, ...</summary>
    public static List<IrNode> ScalarSteps(IEnumerable<IrNode> steps) => steps.Where(s => s.Kind is OpKind.SoftCap or OpKind.Scale).ToList();
}
