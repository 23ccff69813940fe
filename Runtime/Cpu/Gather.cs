using System.Numerics.Tensors;

namespace Tessera.Cpu;

// Embedding lookup: a copy (or add, for learned position embeddings) of one table row per token. Memory bound, so
// only many rows are worth splitting over threads.
public static partial class CpuKernels
{
    /// <summary>
    /// y (T, C) = table[ids[t]] (+= when <paramref name="accumulate"/>) for a table held as a weight matrix: F32 rows
    /// copied, BF16 rows widened, quantized rows dequantized (one row a token, so a table stays quantized in memory).
    /// </summary>
    public static void Gather(CpuExecution cpu, WeightMatrix table, int dim, int[] ids, float[] y, bool accumulate = false)
    {
        if (table.F32 is { } f32)
        {
            Gather(cpu, f32, dim, ids, y, accumulate);
            return;
        }
        ArgumentNullException.ThrowIfNull(ids);
        if (table.Cols != dim) throw new ArgumentException($"A ({table.Rows}, {table.Cols}) table has no rows of {dim}.", nameof(table));
        CheckLength(y, (long)ids.Length * dim, nameof(y));
        CpuParallel.ForRanges(ids.Length, CpuParallel.Workers(cpu, ids.Length, 8L * dim), (start, end) =>
        {
            float[]? row = accumulate ? new float[dim] : null;
            for (int t = start; t < end; t++)
            {
                var dst = y.AsSpan(t * dim, dim);
                var into = row ?? dst;
                if (table.BF16 is { } bf16) WeightMatrix.Widen(bf16.AsSpan(ids[t] * dim, dim), into);
                else Quantization.Dequantize.Row(table.Quantized!.Type, table.Quantized.Row(ids[t]), into);
                if (row is not null) TensorPrimitives.Add(dst, row, dst);
            }
        });
    }

    /// <summary>y (T, C) = table[ids[t]] (+= when <paramref name="accumulate"/>). Ids are checked by the caller.</summary>
    public static void Gather(CpuExecution cpu, float[] table, int dim, int[] ids, float[] y, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        CheckLength(y, (long)ids.Length * dim, nameof(y));
        CpuParallel.ForRanges(ids.Length, CpuParallel.Workers(cpu, ids.Length, 2L * dim), (start, end) =>
        {
            for (int t = start; t < end; t++)
            {
                var src = table.AsSpan(ids[t] * dim, dim);
                var dst = y.AsSpan(t * dim, dim);
                if (accumulate) TensorPrimitives.Add(dst, src, dst);
                else src.CopyTo(dst);
            }
        });
    }
}
