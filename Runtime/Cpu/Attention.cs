using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

// Causal attention over the KV cache. A work item is one row and one kv head with the query heads that share it
// (GQA), so each cached key and value row is read once for the whole group. Items are independent and split over
// threads; a decode step with few kv heads splits the group instead, so both cores still work. Scores live on the
// stack up to StackScores floats and in a pooled array beyond (contexts of 8192+), never a fresh array per row.
public static partial class CpuKernels
{
    private const int StackScores = 4096;

    /// <summary>
    /// Writes each row's k and v (T, kvHeads * d) into its sequence's cache at its position, then computes causal
    /// attention of q (T, heads * d) over positions 0..pos of that sequence into output (T, heads * d).
    /// Query head h reads kv head h / (heads / kvHeads).
    /// </summary>
    public static void Attention(float[] q, float[] k, float[] v, float[] output, TokenBatch batch, int layer, int heads, int kvHeads, int headDim)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), $"Attention needs positive heads ({heads}) divisible by kvHeads ({kvHeads}) and a positive headDim ({headDim}).");
        int rows = batch.Rows, kvWidth = kvHeads * headDim, width = heads * headDim, group = heads / kvHeads;
        CheckLength(q, (long)rows * width, nameof(q));
        CheckLength(output, (long)rows * width, nameof(output));
        CheckLength(k, (long)rows * kvWidth, nameof(k));
        CheckLength(v, (long)rows * kvWidth, nameof(v));

        // All rows are cached first: a row attends to earlier rows of its own sequence in the same batch.
        int longest = 0;
        for (int r = 0; r < rows; r++)
        {
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            int pos = batch.Positions[r];
            Array.Copy(k, r * kvWidth, cache.Keys(layer), pos * kvWidth, kvWidth);
            Array.Copy(v, r * kvWidth, cache.Values(layer), pos * kvWidth, kvWidth);
            longest = Math.Max(longest, pos + 1);
        }

        int workers = CpuParallel.Workers(rows * heads, 4L * longest * headDim);
        int headsPerItem = rows * kvHeads >= 2 * workers ? group : 1;
        int itemsPerRow = heads / headsPerItem;
        float scale = 1f / MathF.Sqrt(headDim);
        CpuParallel.ForRanges(rows * itemsPerRow, workers, (start, end) =>
        {
            for (int item = start; item < end; item++)
            {
                int r = item / itemsPerRow, h0 = item % itemsPerRow * headsPerItem;
                var cache = batch.Caches[batch.SequenceOfRow[r]];
                AttendRow(q.AsSpan(r * width + h0 * headDim, headsPerItem * headDim), output.AsSpan(r * width + h0 * headDim, headsPerItem * headDim),
                    cache.Keys(layer), cache.Values(layer), kvWidth, (h0 / group) * headDim, headsPerItem, headDim, batch.Positions[r] + 1, scale);
            }
        });
    }

    /// <summary>
    /// Attention of <paramref name="count"/> consecutive query heads (q, out: count * d) that share the kv head whose
    /// columns start at <paramref name="kvOffset"/>, over the first <paramref name="context"/> cached positions.
    /// </summary>
    private static void AttendRow(ReadOnlySpan<float> q, Span<float> output, float[] keys, float[] values, int kvWidth, int kvOffset,
        int count, int d, int context, float scale)
    {
        int needed = count * context;
        float[]? rented = needed > StackScores ? ArrayPool<float>.Shared.Rent(needed) : null;
        Span<float> scores = rented != null ? rented.AsSpan(0, needed) : stackalloc float[needed];
        try
        {
            // scores[i, p] = q_i · key_p · scale, reading each key row once for all heads of the group.
            for (int p = 0; p < context; p++)
            {
                var key = keys.AsSpan(p * kvWidth + kvOffset, d);
                for (int i = 0; i < count; i++) scores[i * context + p] = Dot(q.Slice(i * d, d), key) * scale;
            }
            // Softmax per head, shifted by the max so exp never overflows.
            Span<float> sums = stackalloc float[count];
            for (int i = 0; i < count; i++)
            {
                var s = scores.Slice(i * context, context);
                TensorPrimitives.Subtract(s, TensorPrimitives.Max(s), s);
                TensorPrimitives.Exp(s, s);
                sums[i] = TensorPrimitives.Sum(s);
            }
            // out_i = Σ_p weight[i, p] · value_p / sum_i, reading each value row once.
            output.Clear();
            for (int p = 0; p < context; p++)
            {
                var value = values.AsSpan(p * kvWidth + kvOffset, d);
                for (int i = 0; i < count; i++) Axpy(scores[i * context + p], value, output.Slice(i * d, d));
            }
            for (int i = 0; i < count; i++) TensorPrimitives.Divide(output.Slice(i * d, d), sums[i], output.Slice(i * d, d));
        }
        finally
        {
            if (rented != null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>a · b for head-sized vectors, inlined: TensorPrimitives.Dot's call overhead would exceed the work at d = 64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int j = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && a.Length >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; j + 16 <= a.Length; j += 16)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(a.Slice(j, 16)), Vector512.Create(b.Slice(j, 16)), acc);
            sum = Vector512.Sum(acc);
        }
        else if (Vector256.IsHardwareAccelerated && a.Length >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; j + 8 <= a.Length; j += 8)
                acc = Vector256.FusedMultiplyAdd(Vector256.Create(a.Slice(j, 8)), Vector256.Create(b.Slice(j, 8)), acc);
            sum = Vector256.Sum(acc);
        }
        for (; j < a.Length; j++) sum += a[j] * b[j];
        return sum;
    }

    /// <summary>y += s · x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float s, ReadOnlySpan<float> x, Span<float> y)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var vs = Vector512.Create(s);
            for (; j + 16 <= x.Length; j += 16)
                Vector512.FusedMultiplyAdd(vs, Vector512.Create(x.Slice(j, 16)), Vector512.Create(y.Slice(j, 16))).CopyTo(y.Slice(j, 16));
        }
        if (Vector256.IsHardwareAccelerated)
        {
            var vs = Vector256.Create(s);
            for (; j + 8 <= x.Length; j += 8)
                Vector256.FusedMultiplyAdd(vs, Vector256.Create(x.Slice(j, 8)), Vector256.Create(y.Slice(j, 8))).CopyTo(y.Slice(j, 8));
        }
        for (; j < x.Length; j++) y[j] += s * x[j];
    }
}
