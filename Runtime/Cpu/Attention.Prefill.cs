using System.Runtime.CompilerServices;
using System.Buffers;
using System.Numerics.Tensors;

namespace Tessera.Cpu;

// Prefill attention as matrix products. A prompt chunk of T rows attends to P cached positions: per head that is
// S = Q Kᵀ (T x P) and O = softmax(S) V (T x d), two GEMMs that run at matrix-product speed, where row-by-row dot
// products of length d (64) spend most of their time in horizontal sums. The causal mask is applied to S; the
// wasted upper triangle costs less than the row-wise path saves.
public static partial class CpuKernels
{
    /// <summary>Rows of one sequence in a batch from which the GEMM formulation pays (below: the row-wise kernel).</summary>
    internal const int PrefillGemmRows = 16;

    /// <summary>A prompt chunk: rows [Row, Row + Count) of one sequence at positions FirstPosition.., with its cache layer.</summary>
    internal readonly record struct PromptChunk(int Row, int Count, int FirstPosition, float[] Keys, float[] Values);

    /// <summary>
    /// Attention of every prompt chunk of a batch. Work items are (chunk, kv head): with several items (a batch of
    /// prompts, or many kv heads) the items run in parallel, each single-threaded; a lone large item lets its matrix
    /// products use every core instead.
    /// </summary>
    private static void AttendChunks(CpuExecution cpu, IReadOnlyList<PromptChunk> chunks, float[] q, float[] output, int heads, int kvHeads, int headDim, AttentionScores scores)
    {
        int items = chunks.Count * kvHeads;
        long work = chunks.Sum(c => (long)c.Count * (c.FirstPosition + c.Count)) * headDim * heads * 4;
        int workers = CpuParallel.Workers(cpu, items, Math.Max(1, work / Math.Max(1, items)));
        if (workers <= 1)
        {
            foreach (var chunk in chunks)
                for (int kv = 0; kv < kvHeads; kv++) AttendChunk(cpu, q, output, chunk, kv, heads, kvHeads, headDim, scores);
            return;
        }
        // The items already share the cores: each runs its products on its own thread.
        CpuParallel.ForEach(items, workers, item =>
            AttendChunk(CpuExecution.SingleThread, q, output, chunks[item / kvHeads], item % kvHeads, heads, kvHeads, headDim, scores));
    }

    /// <summary>
    /// Attention of the query heads sharing kv head <paramref name="kv"/>, for one prompt chunk (its keys and values
    /// already written to its cache): per query head, S = scale · Q_h K_hᵀ (soft-capped), masked causally (and to the
    /// window), softmax by rows, O_h = S V_h. With a window, only the positions some row of the chunk sees take part.
    /// </summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendChunk(CpuExecution cpu, float[] q, float[] output, PromptChunk chunk, int kv, int heads, int kvHeads, int headDim, AttentionScores options)
    {
        int r0 = chunk.Row, count = chunk.Count, firstPosition = chunk.FirstPosition;
        float[] keys = chunk.Keys, values = chunk.Values;
        int d = headDim, width = heads * d, kvWidth = kvHeads * d, group = heads / kvHeads;
        // Positions [keyStart, keyStart + context): from the first one the chunk's first row sees to its last row.
        int keyStart = options.FirstVisible(firstPosition), context = firstPosition + count - keyStart;
        var pool = ArrayPool<float>.Shared;
        float[] qh = pool.Rent(count * d), kh = pool.Rent(context * d), vhT = pool.Rent(d * context);
        float[] scores = pool.Rent(count * context), oh = pool.Rent(count * d);
        try
        {
            // K_h (P, d) and V_hᵀ (d, P) of this kv head, gathered once for the query heads that share it.
            for (int p = 0; p < context; p++)
            {
                long cached = (long)(keyStart + p) * kvWidth + kv * d;
                Array.Copy(keys, cached, kh, (long)p * d, d);
                for (int j = 0; j < d; j++) vhT[(long)j * context + p] = values[cached + j];
            }
            for (int h = kv * group; h < (kv + 1) * group; h++)
            {
                for (int t = 0; t < count; t++)
                    Array.Copy(q, (long)(r0 + t) * width + h * d, qh, (long)t * d, d);
                MatMul(cpu, qh, count, d, kh, context, scores);
                // Softmax of each row over its visible positions; the others get weight 0 (the causal mask, the window).
                CpuParallel.ForRanges(count, CpuParallel.Workers(cpu, count, 8L * context), (t0, t1) =>
                {
                    for (int t = t0; t < t1; t++)
                    {
                        var row = scores.AsSpan(t * context, context);
                        int position = firstPosition + t, from = options.FirstVisible(position) - keyStart, to = position + 1 - keyStart;
                        var visible = row[from..to];
                        if (options.SoftCap != 0)
                        {
                            options.Apply(visible);
                            Activations.Softmax(visible, 1f);
                        }
                        else
                        {
                            Activations.Softmax(visible, options.Scale);
                        }
                        row[..from].Clear();
                        row[to..].Clear();
                    }
                });
                MatMul(cpu, scores, count, context, vhT, d, oh);
                for (int t = 0; t < count; t++)
                    Array.Copy(oh, (long)t * d, output, (long)(r0 + t) * width + h * d, d);
            }
        }
        finally
        {
            pool.Return(qh);
            pool.Return(kh);
            pool.Return(vhT);
            pool.Return(scores);
            pool.Return(oh);
        }
    }
}
