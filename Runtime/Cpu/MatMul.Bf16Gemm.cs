using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Cpu.Native;

namespace Tessera.Cpu;

// Prefill with BF16 weights on AVX512-BF16 (CpuIsa.Avx512Bf16): the F32 GEMM's 64-row tiles, work split (Gemm in
// MatMul.Gemm.cs) and block store, with Bf16DotKernels' micro-kernel multiplying the weights as stored instead of widening a column chunk of
// them into F32 first (that widening was 12% of a 134M model's BF16 prefill). x is packed per tile as BF16 pairs,
// each value split into a hi and a lo part so that nothing of F32 activations' precision that matters is lost (see
// Bf16DotKernels).
public static partial class CpuKernels
{
    // Hot loop: compiled fully optimised at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Bf16DotItems(uint[] xpArray, float[] xArray, int rows, int k, ushort[] wArray, int n, float[] yArray, Epilogue? epilogue,
        int chunks, int chunkCols, int start, int end)
    {
        int pairs = k / 2, passPairs = GemmDepth / 2;
        float* block = stackalloc float[GemmCols * GemmRows];
        Bf16DotKernels.Arguments arguments;
        fixed (uint* xp = xpArray)
        fixed (float* x = xArray, y = yArray)
        fixed (ushort* w = wArray)
        {
            for (int item = start; item < end; item++)
            {
                int tile = item / chunks, t0 = tile * GemmRows, tr = Math.Min(GemmRows, rows - t0);
                int n0 = item % chunks * chunkCols, n1 = Math.Min(n, n0 + chunkCols);
                uint* xt = xp + (long)tile * pairs * Bf16DotKernels.PairStride;
                int vectors = (tr + 15) >> 4;
                // K in passes of GemmDepth, as the F32 GEMM: later passes add into y.
                for (int p0 = 0; p0 < pairs; p0 += passPairs)
                {
                    int depth = Math.Min(passPairs, pairs - p0);
                    bool oddTail = p0 + depth == pairs && (k & 1) == 1;
                    for (int j = n0; j < n1; j += GemmCols)
                    {
                        int cols = Math.Min(GemmCols, n1 - j);
                        // A short last block repeats row j instead of reading past w; the repeats are dropped on store.
                        ushort* wj = w + (long)j * k + 2 * p0;
                        arguments.W0 = wj;
                        arguments.W1 = cols > 1 ? wj + k : wj;
                        arguments.W2 = cols > 2 ? wj + 2L * k : wj;
                        arguments.W3 = cols > 3 ? wj + 3L * k : wj;
                        arguments.W4 = cols > 4 ? wj + 4L * k : wj;
                        arguments.W5 = cols > 5 ? wj + 5L * k : wj;
                        arguments.X = xt + (long)p0 * Bf16DotKernels.PairStride;
                        arguments.PairBytes = 4L * depth;
                        arguments.Block = block;
                        Bf16DotKernels.Run(vectors, &arguments);
                        // An odd K's last column has no pair: added here in F32.
                        if (oddTail)
                            for (int c = 0; c < cols; c++)
                            {
                                float wk = WeightMatrix.FromBf16(w[(long)(j + c) * k + k - 1]);
                                for (int t = 0; t < tr; t++) block[c * GemmRows + t] += x[(long)(t0 + t) * k + k - 1] * wk;
                            }
                        StoreBlock(block, tr, cols, y + (long)t0 * n + j, n, accumulate: p0 > 0);
                    }
                }
                if (epilogue != null)
                    for (int t = t0; t < t0 + tr; t++) epilogue(yArray.AsSpan(t * n + n0, n1 - n0), t, n0);
            }
        }
    }

    /// <summary>
    /// The tile's rows of x as BF16 pairs for <see cref="Bf16DotKernels"/>: xp[tile][p][t] = (hi(x[t, 2p]),
    /// hi(x[t, 2p+1])) and xp[tile][p][64 + t] the same of the lo parts; rows past the end are zero.
    /// </summary>
    /// <remarks>With AVX-512: 8 rows x 8 pairs at a time, split in registers and transposed as the F32 packing is.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBf16Pairs(float[] xArray, int rows, int k, uint[] xpArray, int tile)
    {
        const int stride = Bf16DotKernels.PairStride;
        int pairs = k / 2, t0 = tile * GemmRows, count = Math.Min(GemmRows, rows - t0);
        var tileSpan = xpArray.AsSpan((int)((long)tile * pairs * stride), pairs * stride);
        if (count < GemmRows) tileSpan.Clear();
        fixed (float* x = xArray)
        fixed (uint* dst = tileSpan)
        {
            int t = 0;
            if (Avx512F.IsSupported)
            {
                for (; t + 8 <= count; t += 8)
                {
                    float* src = x + (long)(t0 + t) * k;
                    int p = 0;
                    for (; p + 8 <= pairs; p += 8)
                    {
                        float* s = src + 2 * p;
                        SplitPairs(s, out var h0, out var l0);
                        SplitPairs(s + k, out var h1, out var l1);
                        SplitPairs(s + 2L * k, out var h2, out var l2);
                        SplitPairs(s + 3L * k, out var h3, out var l3);
                        SplitPairs(s + 4L * k, out var h4, out var l4);
                        SplitPairs(s + 5L * k, out var h5, out var l5);
                        SplitPairs(s + 6L * k, out var h6, out var l6);
                        SplitPairs(s + 7L * k, out var h7, out var l7);
                        float* d = (float*)dst + (long)p * stride + t;
                        Transpose8x8(ref h0, ref h1, ref h2, ref h3, ref h4, ref h5, ref h6, ref h7);
                        h0.Store(d); h1.Store(d + stride); h2.Store(d + 2 * stride); h3.Store(d + 3 * stride);
                        h4.Store(d + 4 * stride); h5.Store(d + 5 * stride); h6.Store(d + 6 * stride); h7.Store(d + 7 * stride);
                        d += GemmRows;
                        Transpose8x8(ref l0, ref l1, ref l2, ref l3, ref l4, ref l5, ref l6, ref l7);
                        l0.Store(d); l1.Store(d + stride); l2.Store(d + 2 * stride); l3.Store(d + 3 * stride);
                        l4.Store(d + 4 * stride); l5.Store(d + 5 * stride); l6.Store(d + 6 * stride); l7.Store(d + 7 * stride);
                    }
                    for (; p < pairs; p++)
                        for (int r = 0; r < 8; r++) PackPair(src + (long)r * k + 2 * p, dst + (long)p * stride + t + r);
                }
            }
            for (; t < count; t++)
            {
                float* src = x + (long)(t0 + t) * k;
                for (int p = 0; p < pairs; p++) PackPair(src + 2 * p, dst + (long)p * stride + t);
            }
        }
    }

    /// <summary>One row's pair: (hi, hi) at <paramref name="dst"/>, (lo, lo) 64 dwords on.</summary>
    private static unsafe void PackPair(float* src, uint* dst)
    {
        var (hi0, lo0) = SplitBf16(src[0]);
        var (hi1, lo1) = SplitBf16(src[1]);
        dst[0] = hi0 | (uint)hi1 << 16;
        dst[GemmRows] = lo0 | (uint)lo1 << 16;
    }

    /// <summary>v ≈ hi + lo, both BF16 (16 significant bits); lo is 0 where v - hi is not finite (v infinite or NaN).</summary>
    internal static (ushort Hi, ushort Lo) SplitBf16(float v)
    {
        ushort hi = WeightMatrix.ToBf16(v);
        float rest = v - WeightMatrix.FromBf16(hi);
        return (hi, float.IsFinite(rest) ? WeightMatrix.ToBf16(rest) : (ushort)0);
    }

    /// <summary>16 values → 8 hi pairs and 8 lo pairs (as dwords in float lanes), what <see cref="SplitBf16"/> gives each.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SplitPairs(float* src, out Vector256<float> hiPairs, out Vector256<float> loPairs)
    {
        var v = Vector512.Load(src);
        var hi = WeightMatrix.ToBf16(v.AsUInt32());
        var rest = v - Vector512.ShiftLeft(hi, 16).AsSingle();
        var finite = ~Vector512.Equals(rest.AsUInt32() & Vector512.Create(0x7F80_0000u), Vector512.Create(0x7F80_0000u));
        var lo = WeightMatrix.ToBf16(rest.AsUInt32()) & finite;
        // vpmovdw keeps each lane's low half: consecutive lanes become the two halves of a dword, the pair.
        hiPairs = Avx512F.ConvertToVector256UInt16(hi).AsSingle();
        loPairs = Avx512F.ConvertToVector256UInt16(lo).AsSingle();
    }
}
