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

    /// <summary>
    /// Attention for rows [r0, r0 + count) of one sequence (consecutive positions, already written to its cache):
    /// per query head, S = scale · Q_h K_hᵀ, masked causally, softmax by rows, O_h = S V_h.
    /// </summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendChunk(float[] q, float[] output, int r0, int count, int firstPosition, float[] keys, float[] values,
        int heads, int kvHeads, int headDim, float scale)
    {
        int d = headDim, width = heads * d, kvWidth = kvHeads * d, group = heads / kvHeads;
        int context = firstPosition + count;
        var pool = ArrayPool<float>.Shared;
        float[] qh = pool.Rent(count * d), kh = pool.Rent(context * d), vhT = pool.Rent(d * context);
        float[] scores = pool.Rent(count * context), oh = pool.Rent(count * d);
        try
        {
            for (int kv = 0; kv < kvHeads; kv++)
            {
                // K_h (P, d) and V_hᵀ (d, P) of this kv head, gathered once for the query heads that share it.
                for (int p = 0; p < context; p++)
                {
                    Array.Copy(keys, (long)p * kvWidth + kv * d, kh, (long)p * d, d);
                    for (int j = 0; j < d; j++) vhT[(long)j * context + p] = values[(long)p * kvWidth + kv * d + j];
                }
                for (int h = kv * group; h < (kv + 1) * group; h++)
                {
                    for (int t = 0; t < count; t++)
                        Array.Copy(q, (long)(r0 + t) * width + h * d, qh, (long)t * d, d);
                    MatMul(qh, count, d, kh, context, scores);
                    // Softmax of each row over its visible positions; later positions get weight 0 (the causal mask).
                    CpuParallel.ForRanges(count, CpuParallel.Workers(count, 8L * context), (t0, t1) =>
                    {
                        for (int t = t0; t < t1; t++)
                        {
                            var row = scores.AsSpan(t * context, context);
                            int visible = firstPosition + t + 1;
                            Activations.Softmax(row[..visible], scale);
                            row[visible..].Clear();
                        }
                    });
                    MatMul(scores, count, context, vhT, d, oh);
                    for (int t = 0; t < count; t++)
                        Array.Copy(oh, (long)t * d, output, (long)(r0 + t) * width + h * d, d);
                }
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
