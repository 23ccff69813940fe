using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Cpu;

/// <summary>
/// The CPU back end: writes each kernel as a call into Tessera.Cpu.CpuKernels (matrix products, norms, attention,
/// RoPE) with fused element-wise work as a generated epilogue or loop. Sizes are printed as their expressions, so
/// the same text folds to constants in a specialised unit and reads bound fields in the shape-generic engine.
/// </summary>
internal static class CpuKernelWriter
{
    private const string Kernels = "global::Tessera.Cpu.CpuKernels";
    private const string Activations = "global::Tessera.Cpu.Activations";
    private const string Elementwise = "global::Tessera.Cpu.Elementwise";

    /// <param name="weights">the C# expression of the module's weights ("_weights" or "w")</param>
    public static void Write(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var sharding = module.Sharding;
        writer.WriteLine($"// {kernel.Output.Name} (T, {sharding.LocalWidth(kernel.Output)}) = {kernel.Describe()}{FusedNote(kernel, sharding)}");
        switch (kernel.Kind)
        {
            case KernelKind.Gather:
                WriteGather(kernel, module, weights, writer);
                break;
            case KernelKind.MatMul:
                WriteMatMul(kernel, module, weights, writer);
                break;
            case KernelKind.Norm:
                WriteNorm(kernel, module, weights, writer);
                break;
            case KernelKind.Rope:
                WriteRope(kernel, module, writer);
                break;
            case KernelKind.Attention:
                WriteAttention(kernel, module, writer);
                break;
            case KernelKind.Chunk:
                WriteChunk(kernel, module, writer);
                break;
            case KernelKind.Elementwise:
                WriteElementwise(kernel, module.Buffers, sharding, writer);
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
            case KernelKind.Layers:
                throw new System.InvalidOperationException("The layers loop is stage glue, written by EngineWriter.");
        }
    }

    /// <summary>An embedding gather; a second one (position embeddings) accumulates into the same rows.</summary>
    private static void WriteGather(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        string out_ = site.Buf(kernel.Output);
        writer.WriteLine($"{Kernels}.Gather(_cpu, {weights}.{node.Module!.Name}, {node.Output.Width}, batch.{IdsOf(node)}, {out_});");
        if (kernel.Fused.Count == 2)
        {
            var second = kernel.Fused[0];
            writer.WriteLine($"{Kernels}.Gather(_cpu, {weights}.{second.Module!.Name}, {second.Output.Width}, batch.{IdsOf(second)}, {out_}, accumulate: true);");
        }
    }

    /// <summary>RMSNorm or LayerNorm over each row.</summary>
    private static void WriteNorm(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        string weight = $"{weights}.{node.Module!.Name}";
        string width = node.Module!.In!;
        string eps = node.Module.Epsilon!;
        string input = site.Buf(node.Inputs[0]), output = site.Buf(node.Output);
        // A per-head norm treats each head of each row as a row of its own.
        string rows = node.Module.PerHead ? $"rows * ({site.NormGroups})" : "rows";
        if (node.Kind == OpKind.RmsNorm)
            writer.WriteLine($"{Kernels}.RmsNorm(_cpu, {input}, {weight}, {output}, {rows}, {width}, {eps});");
        else
            writer.WriteLine($"{Kernels}.LayerNorm(_cpu, {input}, {weight}, {weight}Bias, {output}, {rows}, {width}, {eps});");
    }

    /// <summary>Rotary position embedding, in place (on a copy of the input when the input lives on).</summary>
    private static void WriteRope(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        if (!kernel.InPlace)
            writer.WriteLine($"global::System.Array.Copy({site.Buf(node.Inputs[0])}, {site.Buf(node.Output)}, rows * ({site.Local(node.Inputs[0])}));");
        writer.WriteLine($"{Kernels}.Rope(_cpu, {site.Buf(node.Output)}, rows, {site.Heads(0, 0)}, {site.HeadDim}, batch.Positions, {node.Arguments[1]}{site.RopeOptions});");
    }

    /// <summary>This batch's keys and values into the cache, then causal attention over it; under sequence parallelism over every rank's cache shard.</summary>
    private static void WriteAttention(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        // The cache write is a kernel of its own (as on the GPU): attention only reads the cache.
        writer.WriteLine($"{Kernels}.AppendKv({site.Buf(node.Inputs[1])}, {site.Buf(node.Inputs[2])}, batch, layer, {site.Local(node.Inputs[1])});");
        // Under sequence parallelism the rank's rows attend over every rank's cache shard (a group of one: the plain kernel).
        writer.WriteLine($"{Kernels}.Attention(_cpu, {site.Buf(node.Inputs[0])}, {site.Buf(node.Output)}, batch, layer, {site.Heads(0, 0)}, {site.Heads(1, 1)}, {site.HeadDim}, _rank.Sequence{site.AttentionOptions});");
    }

    /// <summary>
    /// The side of a Select its condition picks: nothing to do when both sides were computed into its buffer (the
    /// buffer planner's rule), else a copy of the chosen one.
    /// </summary>
    private static void WriteSelect(Kernel kernel, CompiledModule module, IndentedTextWriter writer) =>
        writer.WriteLine(new KernelSite(kernel, module).SelectCopy((chosen, output, count) => $"global::System.Array.Copy({chosen}, {output}, {count});"));

    /// <summary>One slice of the feature axis, copied out.</summary>
    private static void WriteChunk(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        var width = site.Local(node.Inputs[0]);
        var count = node.Arguments[1];
        var part = SizeExpr.Divide(width, count);
        writer.WriteLine($"{Kernels}.CopyColumns({site.Buf(node.Inputs[0])}, rows, {width}, {node.Arguments[0]} * ({part}), {part}, {site.Buf(node.Output)});");
    }

    /// <summary>Top-k routing into the layer's router.</summary>
    private static void WriteRoute(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var site = new KernelSite(kernel, module);
        var node = site.Node;
        writer.WriteLine($"{site.Buf(node.Output)}.Route({site.Buf(node.Inputs[0])}, rows, {node.Inputs[0].Width}, {node.Arguments[0]}, renormalize: {node.Arguments[1]}, layer);");
    }

    /// <summary>
    /// Sparse experts: the router gathers each held expert's tokens (an all-to-all to their owners under expert
    /// parallelism), each held expert runs once over its tokens, and the weighted results come back to their rows.
    /// An expert no token chose is skipped, so its weights are not read.
    /// </summary>
    private static void WriteMixture(Kernel kernel, CompiledModule module, IndentedTextWriter writer)
    {
        var node = kernel.Anchor;
        var plan = module.Buffers;
        string router = plan[node.Inputs[1]];
        string expertMethod = node.ExpertsField!.BlockType;
        writer.WriteLine($"{router}.Dispatch({plan[node.Inputs[0]]}, {node.Inputs[0].Width}, _rank.Experts);");
        using (writer.WriteBlock("for (int expert = FirstExpert; expert < EndExpert; expert++)"))
        {
            writer.WriteLine($"int expertRows = {router}.RowsOf(expert);");
            writer.WriteLine($"if (expertRows > 0) {expertMethod}(layer, expert, expertRows, {router}.InputOf(expert), {router}.OutputOf(expert, {node.Output.Width}));");
        }
        writer.WriteLine($"{router}.Combine({plan[kernel.Output]}, {node.Output.Width}, _rank.Experts);");
    }

    private static string IdsOf(IrNode gather) => gather.Kind == OpKind.PositionEmbedding ? "Positions" : "Tokens";

    private static string FusedNote(Kernel kernel, ShardingPlan sharding)
    {
        var notes = new List<string>();
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.Rows) notes.Add("column-parallel");
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.HeadRows) notes.Add("column-parallel by whole key/value heads, replicated past them");
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.PaddedRows) notes.Add("vocab-parallel, padded to the degree");
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.Columns) notes.Add("row-parallel, all-reduce");
        if (kernel.Fused.Count > 0 && kernel.Kind == KernelKind.MatMul) notes.Add($"epilogue: {string.Join(", ", kernel.Fused.Select(n => n.Kind))}");
        if (kernel.Fused.Count > 0 && kernel.Kind == KernelKind.Elementwise) notes.Add($"fused: {string.Join(", ", kernel.Nodes.Select(n => n.Kind))}");
        if (kernel.Kind == KernelKind.Route)
        {
            string renormalize = kernel.Anchor.Arguments[1].ToString() switch
            {
                "true" => "weights renormalised",
                "false" => "weights as the softmax gives them",
                var flag => $"weights renormalised when {flag}",
            };
            notes.Add($"softmax over {kernel.Anchor.Inputs[0].Width} experts, top {kernel.Anchor.Arguments[0]}, {renormalize}");
        }
        if (kernel.Kind == KernelKind.Mixture) notes.Add("each held expert over its tokens only; all-to-all to the experts' ranks and back under expert parallelism");
        if (kernel.Kind == KernelKind.Norm && kernel.Anchor.Module!.PerHead) notes.Add("each head on its own");
        return notes.Count == 0 ? "" : $"  [{string.Join("; ", notes)}]";
    }

    private static void WriteMatMul(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var plan = module.Buffers;
        var sharding = module.Sharding;
        var node = kernel.Anchor;
        var linear = node.Module!;
        var slice = sharding.SliceOf(node);
        string input = plan[node.Inputs[0]];
        string rows = "rows";
        SizeExpr inFeatures = sharding.LocalIn(node);
        SizeExpr outFeatures = sharding.LocalOut(node);
        string output = plan[kernel.Output];
        if (kernel.IsHead)
        {
            // Only the rows the caller wants logits for go through the head (the last token of each sequence when
            // generating): the vocabulary projection is often the largest matrix product of the model.
            rows = "logitRows";
            writer.WriteLine($"int logitRows = batch.LogitRows.Length;");
            writer.WriteLine($"float[] headInput = batch.AllLogitRows ? {input} : {Kernels}.GatherRows({input}, {linear.In}, batch.LogitRows, _headRows);");
            input = "headInput";
            if (sharding[kernel.Output].IsSplit)
            {
                // A vocab-sharded head computes this rank's columns of the logits; an all-gather assembles them.
                output = "headOutput";
                writer.WriteLine($"float[] headOutput = TensorDegree == 1 ? logits : _localLogits;");
            }
        }

        string method = slice == WeightSlice.Columns ? "RowParallelMatMul" : "MatMul";
        string group = slice == WeightSlice.Columns ? ", _rank.Tensor" : "";
        string call = $"{Kernels}.{method}(_cpu, {input}, {rows}, {inFeatures}, {weights}.{linear.Name}, {outFeatures}, {output}{group}";
        if (!kernel.HasEpilogue)
        {
            writer.WriteLine(call + ");");
            WriteHeadGather(kernel, sharding, outFeatures, linear, writer);
            return;
        }

        writer.WriteLine(call + ", (segment, row, column) =>");
        using (writer.WriteBlock(closing: ");")) WriteEpilogueBody(kernel, module, weights, writer);
        WriteHeadGather(kernel, sharding, outFeatures, linear, writer);
    }

    /// <summary>
    /// The epilogue's statements: it runs on each finished segment of an output row, y[row, column .. column +
    /// segment.Length), as in-place vectorised steps while the segment is still in cache.
    /// </summary>
    private static void WriteEpilogueBody(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var plan = module.Buffers;
        var sharding = module.Sharding;
        var linear = kernel.Anchor.Module!;
        if (linear.Bias)
            writer.WriteLine($"{Elementwise}.Add(segment, new global::System.ReadOnlySpan<float>({weights}.{linear.Name}Bias, column, segment.Length));");
        var current = kernel.Anchor.Output;
        foreach (var step in kernel.Fused)
        {
            // An operand of width 1 is the row's scalar (a per-token gate): element row, whatever the column.
            string Operand(IrValue v) => ShapeInference.IsScalarPerRow(v) ? $"{plan[v]}[row]"
                : $"new global::System.ReadOnlySpan<float>({plan[v]}, row * ({sharding.LocalWidth(v)}) + column, segment.Length)";
            writer.WriteLine(Step(step, current, "segment", Operand) + ";");
            current = step.Output;
        }
    }

    /// <summary>
    /// Products of one input in one kernel call (<see cref="StackedProducts"/>): each member's epilogue declared first,
    /// then one MatMul over every member's weights and output. Decode hands the threads off once for all of them.
    /// </summary>
    public static void WriteStack(StackedProducts.Stack stack, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var sharding = module.Sharding;
        var first = stack.First;
        foreach (var member in stack.Members)
            writer.WriteLine($"// {member.Output.Name} (T, {sharding.LocalWidth(member.Output)}) = {member.Describe()}{FusedNote(member, sharding)}");
        writer.WriteLine("// (one kernel call for these products of one input: one hand-off of the threads in decode)");
        var targets = new List<string>();
        foreach (var member in stack.Members)
        {
            var linear = member.Anchor.Module!;
            string target = $"new({weights}.{linear.Name}, {sharding.LocalOut(member.Anchor)}, {module.Buffers[member.Output]}";
            if (member.HasEpilogue)
            {
                string epilogue = member.Output.Name.TrimStart('_') + "Epilogue";
                writer.WriteLine($"global::Tessera.Cpu.Epilogue {epilogue} = (segment, row, column) =>");
                using (writer.WriteBlock(closing: ";")) WriteEpilogueBody(member, module, weights, writer);
                target += ", " + epilogue;
            }
            targets.Add(target + ")");
        }
        writer.WriteLine($"{Kernels}.MatMul(_cpu, {module.Buffers[first.Anchor.Inputs[0]]}, rows, {sharding.LocalIn(first.Anchor)}, [{string.Join(", ", targets)}]);");
    }

    private static void WriteHeadGather(Kernel kernel, ShardingPlan sharding, SizeExpr localVocab, FrontEnd.WeightFieldInfo head, IndentedTextWriter writer)
    {
        if (!kernel.IsHead || !sharding[kernel.Output].IsSplit) return;
        if (sharding[kernel.Output].Padded)
            // Every rank's columns, the padding past the vocabulary dropped.
            writer.WriteLine($"if (TensorDegree > 1) {Kernels}.GatherLogits(_rank.Tensor, _localLogits, logitRows, {localVocab}, {head.Out}, logits);");
        else
            writer.WriteLine($"if (TensorDegree > 1) _rank.Tensor.AllGatherColumns(_localLogits, logitRows, {localVocab}, logits);");
    }

    private static void WriteElementwise(Kernel kernel, BufferPlan plan, ShardingPlan sharding, IndentedTextWriter writer)
    {
        var first = kernel.Anchor;
        var width = sharding.LocalWidth(kernel.Output);
        string count = $"rows * ({width})";
        string target = "out_" + kernel.Output.Name;
        // A per-token scalar spans the rows (one each); every other operand the rows by the width.
        string Span(IrValue v) => ShapeInference.IsScalarPerRow(v) ? $"new global::System.ReadOnlySpan<float>({plan[v]}, 0, rows), {width}"
            : $"new global::System.ReadOnlySpan<float>({plan[v]}, 0, {count})";
        writer.WriteLine($"var {target} = new global::System.Span<float>({plan[kernel.Output]}, 0, {count});");

        // The running value starts as one operand of the first node: the one already in the output buffer, if the
        // buffer planner placed the output over it (element-wise work may overwrite an operand that dies here); never
        // a per-token scalar, which a broadcast product widens.
        var wide = first.Inputs.Where(i => !ShapeInference.IsScalarPerRow(i) || ShapeInference.IsScalarPerRow(kernel.Output)).ToList();
        var start = wide.FirstOrDefault(i => plan[i] == plan[kernel.Output]) ?? wide[0];
        if (plan[start] != plan[kernel.Output]) writer.WriteLine($"{Span(start)}.CopyTo({target});");
        writer.WriteLine(Step(first, start, target, Span, epilogue: false) + ";");
        var current = first.Output;
        foreach (var step in kernel.Fused)
        {
            writer.WriteLine(Step(step, current, target, Span, epilogue: false) + ";");
            current = step.Output;
        }
    }

    /// <summary>
    /// One in-place step on <paramref name="target"/>, which holds the value of <paramref name="current"/>. In an
    /// epilogue a per-token scalar operand is one float (the row's); in a loop over the rows, a span of them.
    /// </summary>
    private static string Step(IrNode step, IrValue current, string target, System.Func<IrValue, string> operand, bool epilogue = true)
    {
        var others = step.Inputs.Where(i => i != current).ToList();
        return step.Kind switch
        {
            OpKind.Silu => $"{Activations}.Silu({target})",
            OpKind.Gelu => $"{Activations}.Gelu({target})",
            OpKind.Sigmoid => $"{Activations}.Sigmoid({target})",
            OpKind.SoftCap => $"{Activations}.SoftCap({target}, {step.Arguments[0]})",
            OpKind.Scale => $"{Elementwise}.Scale({target}, {step.Arguments[0]})",
            OpKind.Add when others.Count == 0 => $"{Elementwise}.Add({target}, {target})",
            OpKind.Add => $"{Elementwise}.Add({target}, {operand(others[0])})",
            _ when others.Count == 0 => $"{Elementwise}.Square({target})",
            _ when ShapeInference.IsScalarPerRow(others[0]) && !ShapeInference.IsScalarPerRow(current) =>
                epilogue ? $"{Elementwise}.Scale({target}, {operand(others[0])})" : $"{Elementwise}.MultiplyRows({target}, {operand(others[0])})",
            _ => $"{Elementwise}.Multiply({target}, {operand(others[0])})",
        };
    }
}
