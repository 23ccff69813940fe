using System.Collections.Generic;
using System.Linq;
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

    /// <param name="weights">the C# expression of the module's weights ("_weights" or "w")</param>
    public static void Write(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        var plan = module.Buffers;
        var sharding = module.Sharding;
        var node = kernel.Anchor;
        string Buf(IrValue v) => plan[v];
        string W(string suffix = "") => $"{weights}.{node.Module!.Name}{suffix}";
        SizeExpr Local(IrValue v) => sharding.LocalWidth(v);
        // Head counts of an op on a split value are this rank's heads.
        SizeExpr Heads(int argument) => sharding[node.Inputs[0]].IsSplit ? ShardingPlan.Local(node.Arguments[argument]) : node.Arguments[argument];

        writer.WriteLine($"// {kernel.Output.Name} (T, {Local(kernel.Output)}) = {kernel.Describe()}{FusedNote(kernel, sharding)}");
        switch (kernel.Kind)
        {
            case KernelKind.Gather:
                {
                    string out_ = Buf(kernel.Output);
                    writer.WriteLine($"{Kernels}.Gather({W()}, {node.Output.Width}, batch.{IdsOf(node)}, {out_});");
                    if (kernel.Fused.Count == 2)
                    {
                        var second = kernel.Fused[0];
                        writer.WriteLine($"{Kernels}.Gather({weights}.{second.Module!.Name}, {second.Output.Width}, batch.{IdsOf(second)}, {out_}, accumulate: true);");
                    }
                    break;
                }

            case KernelKind.MatMul:
                WriteMatMul(kernel, module, weights, writer);
                break;

            case KernelKind.Norm:
                {
                    string width = node.Module!.In!;
                    string eps = node.Module.Epsilon!;
                    if (node.Kind == OpKind.RmsNorm)
                        writer.WriteLine($"{Kernels}.RmsNorm({Buf(node.Inputs[0])}, {W()}, {Buf(node.Output)}, rows, {width}, {eps});");
                    else
                        writer.WriteLine($"{Kernels}.LayerNorm({Buf(node.Inputs[0])}, {W()}, {W("Bias")}, {Buf(node.Output)}, rows, {width}, {eps});");
                    break;
                }

            case KernelKind.Rope:
                {
                    var width = node.Inputs[0].Width;
                    var heads = node.Arguments[0];
                    if (!kernel.InPlace)
                        writer.WriteLine($"global::System.Array.Copy({Buf(node.Inputs[0])}, {Buf(node.Output)}, rows * ({Local(node.Inputs[0])}));");
                    writer.WriteLine($"{Kernels}.Rope({Buf(node.Output)}, rows, {Heads(0)}, {SizeExpr.Divide(width, heads)}, batch.Positions, {node.Arguments[1]});");
                    break;
                }

            case KernelKind.Attention:
                {
                    var heads = node.Arguments[0];
                    writer.WriteLine($"{Kernels}.Attention({Buf(node.Inputs[0])}, {Buf(node.Inputs[1])}, {Buf(node.Inputs[2])}, {Buf(node.Output)}, batch, layer, {Heads(0)}, {Heads(1)}, {SizeExpr.Divide(node.Inputs[0].Width, heads)});");
                    break;
                }

            case KernelKind.Chunk:
                {
                    var width = Local(node.Inputs[0]);
                    var count = node.Arguments[1];
                    var part = SizeExpr.Divide(width, count);
                    writer.WriteLine($"{Kernels}.CopyColumns({Buf(node.Inputs[0])}, rows, {width}, {node.Arguments[0]} * ({part}), {part}, {Buf(node.Output)});");
                    break;
                }

            case KernelKind.Elementwise:
                WriteElementwise(kernel, plan, sharding, writer);
                break;

            case KernelKind.Layers:
                throw new System.InvalidOperationException("The layers loop is stage glue, written by EngineWriter.");
        }
    }

    private static string IdsOf(IrNode gather) => gather.Kind == OpKind.PositionEmbedding ? "Positions" : "Tokens";

    private static string FusedNote(Kernel kernel, ShardingPlan sharding)
    {
        var notes = new List<string>();
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.Rows) notes.Add("column-parallel");
        if (kernel.Kind == KernelKind.MatMul && sharding.SliceOf(kernel.Anchor) == WeightSlice.Columns) notes.Add("row-parallel, all-reduce");
        if (kernel.Fused.Count > 0 && kernel.Kind == KernelKind.MatMul) notes.Add($"epilogue: {string.Join(", ", kernel.Fused.Select(n => n.Kind))}");
        if (kernel.Fused.Count > 0 && kernel.Kind == KernelKind.Elementwise) notes.Add($"fused: {string.Join(", ", kernel.Nodes.Select(n => n.Kind))}");
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
        SizeExpr inFeatures = slice == WeightSlice.Columns ? ShardingPlan.Local(SizeExpr.Parse(linear.In!)) : SizeExpr.Parse(linear.In!);
        SizeExpr outFeatures = slice == WeightSlice.Rows ? ShardingPlan.Local(SizeExpr.Parse(linear.Out!)) : SizeExpr.Parse(linear.Out!);
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
        string call = $"{Kernels}.{method}({input}, {rows}, {inFeatures}, {weights}.{linear.Name}, {outFeatures}, {output}{group}";
        bool hasEpilogue = linear.Bias || kernel.Fused.Count > 0;
        if (!hasEpilogue)
        {
            writer.WriteLine(call + ");");
            WriteHeadGather(kernel, sharding, outFeatures, writer);
            return;
        }

        // The epilogue runs on each finished segment of an output row: y[row, column .. column + segment.Length).
        writer.WriteLine(call + ", (segment, row, column) =>");
        using (writer.WriteBlock(closing: ");"))
        {
            string value = "segment[i]";
            var operands = new Dictionary<IrValue, string>();
            if (linear.Bias)
            {
                writer.WriteLine($"var bias = new global::System.ReadOnlySpan<float>({weights}.{linear.Name}Bias, column, segment.Length);");
                value = $"{value} + bias[i]";
            }
            var current = node.Output;
            foreach (var step in kernel.Fused)
            {
                foreach (var operand in step.Inputs.Where(i => i != current && !operands.ContainsKey(i)))
                {
                    string local = "in_" + operand.Name;
                    operands[operand] = local;
                    writer.WriteLine($"var {local} = new global::System.ReadOnlySpan<float>({plan[operand]}, row * ({sharding.LocalWidth(operand)}) + column, segment.Length);");
                }
                value = Apply(step, current, value, operands);
                current = step.Output;
            }
            writer.WriteLine($"for (int i = 0; i < segment.Length; i++) segment[i] = {value};");
        }
        WriteHeadGather(kernel, sharding, outFeatures, writer);
    }

    private static void WriteHeadGather(Kernel kernel, ShardingPlan sharding, SizeExpr localVocab, IndentedTextWriter writer)
    {
        if (kernel.IsHead && sharding[kernel.Output].IsSplit)
            writer.WriteLine($"if (TensorDegree > 1) _rank.Tensor.AllGatherColumns(_localLogits, logitRows, {localVocab}, logits);");
    }

    private static void WriteElementwise(Kernel kernel, BufferPlan plan, ShardingPlan sharding, IndentedTextWriter writer)
    {
        var first = kernel.Anchor;
        var operands = new Dictionary<IrValue, string>();
        string Operand(IrValue v)
        {
            if (!operands.TryGetValue(v, out var local))
            {
                local = "in_" + v.Name;
                operands[v] = local;
            }
            return local;
        }

        // The first node reads only operands; each later one extends the running value.
        string value = first.Kind switch
        {
            OpKind.Silu => $"{Activations}.Silu({Operand(first.Inputs[0])}[i])",
            OpKind.Gelu => $"{Activations}.Gelu({Operand(first.Inputs[0])}[i])",
            OpKind.Add => $"{Operand(first.Inputs[0])}[i] + {Operand(first.Inputs[1])}[i]",
            _ => $"{Operand(first.Inputs[0])}[i] * {Operand(first.Inputs[1])}[i]",
        };
        var current = first.Output;
        foreach (var step in kernel.Fused)
        {
            foreach (var operand in step.Inputs.Where(i => i != current)) Operand(operand);
            value = Apply(step, current, value, operands);
            current = step.Output;
        }

        string count = $"rows * ({sharding.LocalWidth(kernel.Output)})";
        foreach (var pair in operands)
            writer.WriteLine($"var {pair.Value} = new global::System.ReadOnlySpan<float>({plan[pair.Key]}, 0, {count});");
        writer.WriteLine($"var out_{kernel.Output.Name} = new global::System.Span<float>({plan[kernel.Output]}, 0, {count});");
        writer.WriteLine($"for (int i = 0; i < out_{kernel.Output.Name}.Length; i++) out_{kernel.Output.Name}[i] = {value};");
    }

    /// <summary>Extends the running expression <paramref name="value"/> (the value of <paramref name="current"/>) by one element-wise step.</summary>
    private static string Apply(IrNode step, IrValue current, string value, Dictionary<IrValue, string> operands)
    {
        string Other(int i) => step.Inputs[i] == current ? $"({value})" : operands[step.Inputs[i]] + "[i]";
        return step.Kind switch
        {
            OpKind.Silu => $"{Activations}.Silu({value})",
            OpKind.Gelu => $"{Activations}.Gelu({value})",
            OpKind.Add => $"{Other(0)} + {Other(1)}",
            _ => $"{Other(0)} * {Other(1)}",
        };
    }
}
