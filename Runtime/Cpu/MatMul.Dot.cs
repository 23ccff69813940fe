using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

// Decode and small batches (T < GemmMinRows): each output is a dot product of an x row and a w row, both contiguous
// along K, so no packing is needed. The kernel takes 4 w rows x up to 4 x rows: every w vector loaded is used by all
// x rows, w streams from memory exactly once per call, and 4..16 independent accumulators hide the FMA latency.
public static partial class CpuKernels
{
    private const int DotCols = 4;

    private static unsafe void DotMatMul(CpuExecution cpu, float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue, CpuIsa isa)
    {
        // Work splits over N, so T = 1 uses every core; each worker owns whole epilogue chunks.
        int chunks = (n + EpilogueChunk - 1) / EpilogueChunk;
        int workers = CpuParallel.Workers(cpu, chunks, 2L * rows * k * Math.Min(n, EpilogueChunk));
        CpuParallel.ForRanges(chunks, workers, (start, end) =>
        {
            fixed (float* px = x, pw = w, py = y)
            {
                for (int c = start; c < end; c++)
                {
                    int n0 = c * EpilogueChunk, n1 = Math.Min(n, n0 + EpilogueChunk);
                    if (isa == CpuIsa.Avx512) DotChunk(px, rows, k, pw, n, py, n0, n1);
                    else DotChunk256<F32Weights>(px, rows, k, pw, n, py, n0, n1, isa);
                    if (epilogue != null)
                        for (int r = 0; r < rows; r++) epilogue(y.AsSpan(r * n + n0, n1 - n0), r, n0);
                }
            }
        });
    }

    /// <summary>Columns [n0, n1) of every row.</summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotChunk(float* x, int rows, int k, float* w, int n, float* y, int n0, int n1)
    {
        if (rows == 1 && k >= 16)
        {
            GemvChunk(x, k, w, y, n0, n1);
            return;
        }
        for (int j = n0; j < n1; j += DotCols)
        {
            int cols = Math.Min(DotCols, n1 - j);
            // A short last block repeats row j instead of reading past w; the repeats are computed and dropped.
            nint o1 = cols > 1 ? k : 0, o2 = cols > 2 ? 2 * k : 0, o3 = cols > 3 ? 3 * k : 0;
            float* wj = w + (long)j * k;
            int r = 0;
            for (; r + 4 <= rows; r += 4) DotKernel<Four>(wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols);
            switch (rows - r)
            {
                case 3: DotKernel<Three>(wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols); break;
                case 2: DotKernel<Two>(wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols); break;
                case 1: DotKernel<One>(wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols); break;
            }
        }
    }

    /// <summary>
    /// Decode (one row of x): two w rows at once, from the two halves of the range (two sequential streams), four
    /// accumulators each, 64 weights per step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemvChunk(float* x, int k, float* w, float* y, int n0, int n1)
    {
        int half = (n1 - n0 + 1) / 2;
        for (int r = 0; r < half; r++)
        {
            int j = n0 + r, j2 = n0 + half + r;
            bool two = j2 < n1;
            float* wa = w + (long)j * k, wb = two ? w + (long)j2 * k : wa;
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
            int i = 0;
            for (; i + 64 <= k; i += 64)
            {
                var x0 = Vector512.Load(x + i);
                var x1 = Vector512.Load(x + i + 16);
                var x2 = Vector512.Load(x + i + 32);
                var x3 = Vector512.Load(x + i + 48);
                a0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(wa + i), a0);
                a1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(wa + i + 16), a1);
                a2 = Vector512.FusedMultiplyAdd(x2, Vector512.Load(wa + i + 32), a2);
                a3 = Vector512.FusedMultiplyAdd(x3, Vector512.Load(wa + i + 48), a3);
                b0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(wb + i), b0);
                b1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(wb + i + 16), b1);
                b2 = Vector512.FusedMultiplyAdd(x2, Vector512.Load(wb + i + 32), b2);
                b3 = Vector512.FusedMultiplyAdd(x3, Vector512.Load(wb + i + 48), b3);
            }
            for (; i + 16 <= k; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(wa + i), a0);
                b0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(wb + i), b0);
            }
            float sumA = Vector512.Sum((a0 + a1) + (a2 + a3)), sumB = Vector512.Sum((b0 + b1) + (b2 + b3));
            for (; i < k; i++)
            {
                sumA += x[i] * wa[i];
                sumB += x[i] * wb[i];
            }
            y[j] = sumA;
            if (two) y[j2] = sumB;
        }
    }

    /// <summary>y[r, c] = x[r] · w[c] for TRows rows of x and the w rows at w, w + o1, w + o2, w + o3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotKernel<TRows>(float* w, nint o1, nint o2, nint o3, float* x, int k, float* y, int n, int cols)
        where TRows : struct, IConstant
    {
        int rx = TRows.Value;
        float* x1 = x + (rx > 1 ? k : 0), x2 = x + (rx > 2 ? 2 * k : 0), x3 = x + (rx > 3 ? 3 * k : 0);
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int i = 0;
        for (; i + 16 <= k; i += 16)
        {
            var w0 = Vector512.Load(w + i);
            var w1 = Vector512.Load(w + o1 + i);
            var w2 = Vector512.Load(w + o2 + i);
            var w3 = Vector512.Load(w + o3 + i);
            var xv = Vector512.Load(x + i);
            a00 = Avx512F.FusedMultiplyAdd(w0, xv, a00);
            a01 = Avx512F.FusedMultiplyAdd(w1, xv, a01);
            a02 = Avx512F.FusedMultiplyAdd(w2, xv, a02);
            a03 = Avx512F.FusedMultiplyAdd(w3, xv, a03);
            if (rx > 1)
            {
                xv = Vector512.Load(x1 + i);
                a10 = Avx512F.FusedMultiplyAdd(w0, xv, a10);
                a11 = Avx512F.FusedMultiplyAdd(w1, xv, a11);
                a12 = Avx512F.FusedMultiplyAdd(w2, xv, a12);
                a13 = Avx512F.FusedMultiplyAdd(w3, xv, a13);
            }
            if (rx > 2)
            {
                xv = Vector512.Load(x2 + i);
                a20 = Avx512F.FusedMultiplyAdd(w0, xv, a20);
                a21 = Avx512F.FusedMultiplyAdd(w1, xv, a21);
                a22 = Avx512F.FusedMultiplyAdd(w2, xv, a22);
                a23 = Avx512F.FusedMultiplyAdd(w3, xv, a23);
            }
            if (rx > 3)
            {
                xv = Vector512.Load(x3 + i);
                a30 = Avx512F.FusedMultiplyAdd(w0, xv, a30);
                a31 = Avx512F.FusedMultiplyAdd(w1, xv, a31);
                a32 = Avx512F.FusedMultiplyAdd(w2, xv, a32);
                a33 = Avx512F.FusedMultiplyAdd(w3, xv, a33);
            }
        }
        StoreDots(a00, a01, a02, a03, w, o1, o2, o3, x, i, k, y, cols);
        if (rx > 1) StoreDots(a10, a11, a12, a13, w, o1, o2, o3, x1, i, k, y + n, cols);
        if (rx > 2) StoreDots(a20, a21, a22, a23, w, o1, o2, o3, x2, i, k, y + 2 * n, cols);
        if (rx > 3) StoreDots(a30, a31, a32, a33, w, o1, o2, o3, x3, i, k, y + 3 * n, cols);
    }

    /// <summary>Reduces one x row's accumulators, adds the K tail [i, k) and stores the first <paramref name="cols"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreDots(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        float* w, nint o1, nint o2, nint o3, float* x, int i, int k, float* y, int cols)
    {
        float s0 = Vector512.Sum(a0), s1 = Vector512.Sum(a1), s2 = Vector512.Sum(a2), s3 = Vector512.Sum(a3);
        for (; i < k; i++)
        {
            float xv = x[i];
            s0 += w[i] * xv;
            s1 += w[o1 + i] * xv;
            s2 += w[o2 + i] * xv;
            s3 += w[o3 + i] * xv;
        }
        y[0] = s0;
        if (cols > 1) y[1] = s1;
        if (cols > 2) y[2] = s2;
        if (cols > 3) y[3] = s3;
    }
}
