using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

// Decode and small batches (T < GemmMinRows): each output is a dot product of an x row and a w row, both contiguous
// along K, so no packing is needed. The kernel takes 4 w rows x up to 4 x rows: every w vector loaded is used by all
// x rows, w streams from memory exactly once per call, and 4..16 independent accumulators hide the FMA latency.
// One x row (decode) is memory-bound: its kernel reads rows from four distant places of a worker's range at once, so
// that the core has four independent streams of loads in flight (alternating A/B on a 134M model: one stream 90-93
// decode tokens/s, two 107-113, four ~5% more again).
public static partial class CpuKernels
{
    private const int DotCols = 4;

    /// <summary>The dot kernels for F32 weights, whatever the rows (tests force this path), as a fused call's one product.</summary>
    private static void DotMatMul(CpuExecution cpu, float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue, CpuIsa isa) =>
        DotProducts(cpu, x, rows, k, [new MatMulTarget(WeightMatrix.Wrap(w, n, k), n, y, epilogue)], isa);

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
    /// Decode (one row of x): four w rows at once, one from each quarter of the range (four sequential streams), two
    /// accumulators each, 32 weights per step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemvChunk(float* x, int k, float* w, float* y, int n0, int n1)
    {
        int quarter = (n1 - n0 + 3) / 4;
        for (int r = 0; r < quarter; r++)
        {
            int j0 = n0 + r, j1 = j0 + quarter, j2 = j1 + quarter, j3 = j2 + quarter;
            float* w0 = w + (long)j0 * k;
            float* w1 = j1 < n1 ? w + (long)j1 * k : w0;
            float* w2 = j2 < n1 ? w + (long)j2 * k : w0;
            float* w3 = j3 < n1 ? w + (long)j3 * k : w0;
            Vector512<float> a0 = default, a1 = default, b0 = default, b1 = default;
            Vector512<float> c0 = default, c1 = default, d0 = default, d1 = default;
            int i = 0;
            for (; i + 32 <= k; i += 32)
            {
                var x0 = Vector512.Load(x + i);
                var x1 = Vector512.Load(x + i + 16);
                a0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(w0 + i), a0);
                a1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(w0 + i + 16), a1);
                b0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(w1 + i), b0);
                b1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(w1 + i + 16), b1);
                c0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(w2 + i), c0);
                c1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(w2 + i + 16), c1);
                d0 = Vector512.FusedMultiplyAdd(x0, Vector512.Load(w3 + i), d0);
                d1 = Vector512.FusedMultiplyAdd(x1, Vector512.Load(w3 + i + 16), d1);
            }
            for (; i + 16 <= k; i += 16)
            {
                var xv = Vector512.Load(x + i);
                a0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w0 + i), a0);
                b0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w1 + i), b0);
                c0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w2 + i), c0);
                d0 = Vector512.FusedMultiplyAdd(xv, Vector512.Load(w3 + i), d0);
            }
            float s0 = Vector512.Sum(a0 + a1), s1 = Vector512.Sum(b0 + b1), s2 = Vector512.Sum(c0 + c1), s3 = Vector512.Sum(d0 + d1);
            for (; i < k; i++)
            {
                s0 += x[i] * w0[i];
                s1 += x[i] * w1[i];
                s2 += x[i] * w2[i];
                s3 += x[i] * w3[i];
            }
            y[j0] = s0;
            if (j1 < n1) y[j1] = s1;
            if (j2 < n1) y[j2] = s2;
            if (j3 < n1) y[j3] = s3;
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
