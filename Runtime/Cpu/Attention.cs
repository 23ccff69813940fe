using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

// Causal attention over the KV cache, parallel over (row, range of heads). Within an item, positions are the outer
// loop, so the cache rows stream through memory in order once for all heads (query heads of a GQA group share each
// key and value load). Scores live on the
// stack up to StackScores floats and in a pooled array beyond (contexts of 8192+), never a fresh array per row.
// The inner loops use Vector512, which .NET runs as two Vector256 halves where AVX-512 is missing.
public static partial class CpuKernels
{
    private const int StackScores = 4096;

    /// <summary>
    /// Causal attention of q (T, heads * d) over positions 0..pos of each row's sequence, read from its cache (where
    /// <see cref="AppendKv"/> has put this batch's keys and values), into output (T, heads * d). Query head h reads kv
    /// head h / (heads / kvHeads). Scores are (q · k) · <paramref name="scale"/> (0: 1/√d), soft-capped to
    /// c · tanh(s / c) when <paramref name="softCap"/> c is not 0; a <paramref name="window"/> W above 0 limits the row
    /// at position i to the keys at positions i - W + 1 .. i.
    /// </summary>
    public static void Attention(CpuExecution cpu, float[] q, float[] output, TokenBatch batch, int layer, int heads, int kvHeads, int headDim,
        float scale = 0, float softCap = 0, int window = 0)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        ArgumentNullException.ThrowIfNull(batch);
        if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), $"Attention needs positive heads ({heads}) divisible by kvHeads ({kvHeads}) and a positive headDim ({headDim}).");
        var scores = AttentionScores.Of(headDim, scale, softCap, window);
        int rows = batch.Rows, kvWidth = kvHeads * headDim, width = heads * headDim, group = heads / kvHeads;
        CheckLength(q, (long)rows * width, nameof(q));
        CheckLength(output, (long)rows * width, nameof(output));
        int longest = 0;
        for (int r = 0; r < rows; r++) longest = Math.Max(longest, batch.Positions[r] + 1);

        // Long runs of one sequence's consecutive rows (a prompt) go through matrix products; the rest row by row.
        var rowWise = new List<int>();
        var chunks = new List<PromptChunk>();
        for (int r = 0; r < rows;)
        {
            int end = r + 1;
            while (end < rows && batch.SequenceOfRow[end] == batch.SequenceOfRow[r] && batch.Positions[end] == batch.Positions[end - 1] + 1) end++;
            if (end - r >= PrefillGemmRows)
            {
                var cache = batch.Caches[batch.SequenceOfRow[r]];
                chunks.Add(new PromptChunk(r, end - r, batch.Positions[r], cache.Keys(layer), cache.Values(layer)));
            }
            else
            {
                for (int i = r; i < end; i++) rowWise.Add(i);
            }
            r = end;
        }
        if (chunks.Count > 0) AttendChunks(cpu, chunks, q, output, heads, kvHeads, headDim, scores);
        if (rowWise.Count == 0) return;
        int[] rowList = rowWise.ToArray();
        rows = rowList.Length;

        // A work item is one row and a contiguous range of its query heads. Many rows: all heads per item, so each
        // cached row is read whole and in order. Few rows (decode): the heads are split so every core works. Items
        // are handed out dynamically: later rows of a prompt attend to more positions.
        int workers = CpuParallel.Workers(cpu, rows * heads, 4L * longest * headDim);
        int splits = rows >= workers ? 1 : Math.Min(heads, (workers + rows - 1) / rows);
        int headsPerItem = (heads + splits - 1) / splits;
        splits = (heads + headsPerItem - 1) / headsPerItem;
        CpuParallel.ForEach(rows * splits, workers, item =>
        {
            int r = rowList[item / splits], h0 = item % splits * headsPerItem, count = Math.Min(headsPerItem, heads - h0);
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            int position = batch.Positions[r], first = scores.FirstVisible(position);
            AttendRow(q, output, r * width, cache.Keys(layer), cache.Values(layer), kvWidth, h0, count, group, headDim, first, position + 1 - first, scores);
        });
    }

    /// <summary>
    /// How attention turns q · k into weights: the scale, the soft-cap (0: none) and the sliding window (0: none), the
    /// same in every path (row by row, prompt chunks, sequence-parallel shards).
    /// </summary>
    internal readonly record struct AttentionScores(float Scale, float SoftCap, int Window)
    {
        /// <summary>The options of a call: a scale of 0 is 1/√d.</summary>
        public static AttentionScores Of(int headDim, float scale, float softCap, int window)
        {
            if (window < 0) throw new ArgumentOutOfRangeException(nameof(window), $"Attention's sliding window must be 0 (none) or more, not {window}.");
            if (!float.IsFinite(scale) || !float.IsFinite(softCap))
                throw new ArgumentOutOfRangeException(nameof(scale), "Attention's scale and soft-cap must be finite numbers.");
            return new AttentionScores(scale == 0 ? 1f / MathF.Sqrt(headDim) : scale, softCap, window);
        }

        /// <summary>The first position a query at <paramref name="position"/> sees.</summary>
        public int FirstVisible(int position) => Window > 0 ? Math.Max(0, position - Window + 1) : 0;

        /// <summary>Whether a query at <paramref name="position"/> sees the key at <paramref name="key"/>.</summary>
        public bool Sees(int position, int key) => key <= position && (Window == 0 || position - key < Window);

        /// <summary>In place: raw q · k products become scaled (and soft-capped) scores.</summary>
        public void Apply(Span<float> products)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(products, Scale, products);
            if (SoftCap != 0) Activations.SoftCap(products, SoftCap);
        }
    }

    /// <summary>
    /// Attention of query heads [h0, h0 + count) of one row (q and output at <paramref name="rowOffset"/>) over the
    /// <paramref name="context"/> cached positions from <paramref name="first"/> on; head h reads kv head h / group.
    /// </summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void AttendRow(float[] qArray, float[] outputArray, int rowOffset, float[] keysArray, float[] valuesArray, int kvWidth,
        int h0, int count, int group, int d, int first, int context, AttentionScores options)
    {
        float scale = options.SoftCap == 0 ? options.Scale : 1f; // soft-capped scores are scaled before the cap, below
        int needed = count * context;
        float[]? rented = needed > StackScores ? ArrayPool<float>.Shared.Rent(needed) : null;
        Span<float> scoreSpan = rented != null ? rented.AsSpan(0, needed) : stackalloc float[needed];
        try
        {
            fixed (float* qRow = &qArray[rowOffset], outRow = &outputArray[rowOffset], keysStart = keysArray, valuesStart = valuesArray, scores = scoreSpan)
            {
                float* keys = keysStart + (long)first * kvWidth, values = valuesStart + (long)first * kvWidth;
                float* q = qRow + h0 * d, output = outRow + h0 * d;
                // scores[i, p] = q_i · key_p · scale: four positions at a time (four independent FMA chains, one
                // load of q per four keys); positions outer, so the cache streams through once for all heads.
                int p = 0;
                for (; p + 4 <= context; p += 4)
                {
                    float* key = keys + (long)p * kvWidth;
                    for (int i = 0; i < count; i++)
                        Dot4(q + i * d, key + (h0 + i) / group * d, kvWidth, d, scores + i * context + p, scale);
                }
                for (; p < context; p++)
                    for (int i = 0; i < count; i++)
                        scores[i * context + p] = Dot(q + i * d, keys + (long)p * kvWidth + (h0 + i) / group * d, d) * scale;

                // Softmax per head (the scores are already scaled; soft-capped ones scaled and capped here).
                for (int i = 0; i < count; i++)
                {
                    var row = scoreSpan.Slice(i * context, context);
                    if (options.SoftCap != 0) options.Apply(row);
                    Activations.Softmax(row, 1f);
                }

                // out_i = Σ_p weight[i, p] · value_p: four value rows per pass over out_i.
                new Span<float>(output, count * d).Clear();
                for (p = 0; p + 4 <= context; p += 4)
                {
                    float* value = values + (long)p * kvWidth;
                    for (int i = 0; i < count; i++)
                        Axpy4(scores + i * context + p, value + (h0 + i) / group * d, kvWidth, output + i * d, d);
                }
                for (; p < context; p++)
                    for (int i = 0; i < count; i++)
                        Axpy(scores[i * context + p], values + (long)p * kvWidth + (h0 + i) / group * d, output + i * d, d);
            }
        }
        finally
        {
            if (rented != null) ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>scores[0..4) = (q · key_j) · scale for the four key rows at key + j · stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Dot4(float* q, float* key, int stride, int d, float* scores, float scale)
    {
        float* k1 = key + stride, k2 = k1 + stride, k3 = k2 + stride;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        if (d >= 16)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; j + 16 <= d; j += 16)
            {
                var qv = Vector512.Load(q + j);
                a0 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(key + j), a0);
                a1 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k1 + j), a1);
                a2 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k2 + j), a2);
                a3 = Vector512.FusedMultiplyAdd(qv, Vector512.Load(k3 + j), a3);
            }
            s0 = Vector512.Sum(a0);
            s1 = Vector512.Sum(a1);
            s2 = Vector512.Sum(a2);
            s3 = Vector512.Sum(a3);
        }
        for (; j < d; j++)
        {
            s0 += q[j] * key[j];
            s1 += q[j] * k1[j];
            s2 += q[j] * k2[j];
            s3 += q[j] * k3[j];
        }
        scores[0] = s0 * scale;
        scores[1] = s1 * scale;
        scores[2] = s2 * scale;
        scores[3] = s3 * scale;
    }

    private static unsafe float Dot(float* a, float* b, int d)
    {
        float sum = 0;
        int j = 0;
        if (d >= 16)
        {
            var acc = Vector512<float>.Zero;
            for (; j + 16 <= d; j += 16) acc = Vector512.FusedMultiplyAdd(Vector512.Load(a + j), Vector512.Load(b + j), acc);
            sum = Vector512.Sum(acc);
        }
        for (; j < d; j++) sum += a[j] * b[j];
        return sum;
    }

    /// <summary>y += Σ_j weights[j] · x_j for the four rows x_j at x + j · stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Axpy4(float* weights, float* x, int stride, float* y, int d)
    {
        float* x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
        float w0 = weights[0], w1 = weights[1], w2 = weights[2], w3 = weights[3];
        int j = 0;
        if (d >= 16)
        {
            Vector512<float> v0 = Vector512.Create(w0), v1 = Vector512.Create(w1), v2 = Vector512.Create(w2), v3 = Vector512.Create(w3);
            for (; j + 16 <= d; j += 16)
            {
                var acc = Vector512.Load(y + j);
                acc = Vector512.FusedMultiplyAdd(v0, Vector512.Load(x + j), acc);
                acc = Vector512.FusedMultiplyAdd(v1, Vector512.Load(x1 + j), acc);
                acc = Vector512.FusedMultiplyAdd(v2, Vector512.Load(x2 + j), acc);
                acc = Vector512.FusedMultiplyAdd(v3, Vector512.Load(x3 + j), acc);
                acc.Store(y + j);
            }
        }
        for (; j < d; j++) y[j] += w0 * x[j] + w1 * x1[j] + w2 * x2[j] + w3 * x3[j];
    }

    private static unsafe void Axpy(float s, float* x, float* y, int d)
    {
        int j = 0;
        if (d >= 16)
        {
            var vs = Vector512.Create(s);
            for (; j + 16 <= d; j += 16) Vector512.FusedMultiplyAdd(vs, Vector512.Load(x + j), Vector512.Load(y + j)).Store(y + j);
        }
        for (; j < d; j++) y[j] += s * x[j];
    }
}
