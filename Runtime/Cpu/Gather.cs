using System.Numerics.Tensors;

namespace Tessera.Cpu;

// Embedding lookup: a copy (or add, for learned position embeddings) of one table row per token. Memory bound, so
// only many rows are worth splitting over threads.
public static partial class CpuKernels
{
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
