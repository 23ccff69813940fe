using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Cpu;

// The kernels for machines without AVX-512 (CpuIsa.Vector256 / Vector256Fma): the same algorithms as the AVX-512
// ones, narrowed to 16 ymm registers. GEMM: the same packed 64-row x tiles and work split, with a 6 (columns) x 16
// (rows) micro-kernel run over each 16-row slice of a tile: per k, 2 x loads + 6 broadcasts feed 12 accumulators;
// the 6 w rows of the K slice stay in L1 across the tile's 4 slices. Dot (fewer than GemmMinRows rows): 4 w rows x 2
// x rows = 8 accumulators. BF16 weights: the GEMM widens a column chunk at a time (as on AVX-512); the dot kernels
// widen 8 weights at a time in registers, so nothing widens the whole matrix.
public static partial class CpuKernels
{
    /// <summary>
    /// block[c][t] for t in [0, rows) of the packed tile at <paramref name="xt"/>: the 6 x 16 micro-kernel over each
    /// 16-row slice (8 rows for a short last slice). Padded tile rows are zero, so a slice may run past rows.
    /// </summary>
    private static unsafe void GemmBlock256<TMad>(float* w, nint o1, nint o2, nint o3, nint o4, nint o5, int k, float* xt, int rows, float* block)
        where TMad : struct, IMultiplyAdd
    {
        for (int t = 0; t < rows; t += 16)
        {
            if (rows - t > 8) GemmKernel256<Two, TMad>(w, o1, o2, o3, o4, o5, k, xt + t, block + t);
            else GemmKernel256<One, TMad>(w, o1, o2, o3, o4, o5, k, xt + t, block + t);
        }
    }

    /// <summary>
    /// block[c][t] = Σ_kk w[c][kk] · xt[kk][t] for 6 w rows (at w + 0, o1 .. o5) and 8 · TVectors consecutive rows
    /// of a packed tile (row stride GemmRows).
    /// </summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of vector loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GemmKernel256<TVectors, TMad>(float* w, nint o1, nint o2, nint o3, nint o4, nint o5, int k, float* xt, float* block)
        where TVectors : struct, IConstant
        where TMad : struct, IMultiplyAdd
    {
        int nv = TVectors.Value;
        Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default;
        Vector256<float> a30 = default, a31 = default, a40 = default, a41 = default, a50 = default, a51 = default;
        for (float* wEnd = w + k; w < wEnd; w++, xt += GemmRows)
        {
            var x0 = Vector256.Load(xt);
            var x1 = nv > 1 ? Vector256.Load(xt + 8) : default;
            var b = Vector256.Create(w[0]);
            a00 = TMad.Apply(b, x0, a00);
            if (nv > 1) a01 = TMad.Apply(b, x1, a01);
            b = Vector256.Create(w[o1]);
            a10 = TMad.Apply(b, x0, a10);
            if (nv > 1) a11 = TMad.Apply(b, x1, a11);
            b = Vector256.Create(w[o2]);
            a20 = TMad.Apply(b, x0, a20);
            if (nv > 1) a21 = TMad.Apply(b, x1, a21);
            b = Vector256.Create(w[o3]);
            a30 = TMad.Apply(b, x0, a30);
            if (nv > 1) a31 = TMad.Apply(b, x1, a31);
            b = Vector256.Create(w[o4]);
            a40 = TMad.Apply(b, x0, a40);
            if (nv > 1) a41 = TMad.Apply(b, x1, a41);
            b = Vector256.Create(w[o5]);
            a50 = TMad.Apply(b, x0, a50);
            if (nv > 1) a51 = TMad.Apply(b, x1, a51);
        }
        StoreRow256(block, a00, a01, nv);
        StoreRow256(block + GemmRows, a10, a11, nv);
        StoreRow256(block + 2 * GemmRows, a20, a21, nv);
        StoreRow256(block + 3 * GemmRows, a30, a31, nv);
        StoreRow256(block + 4 * GemmRows, a40, a41, nv);
        StoreRow256(block + 5 * GemmRows, a50, a51, nv);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreRow256(float* dst, Vector256<float> a0, Vector256<float> a1, int nv)
    {
        a0.Store(dst);
        if (nv > 1) a1.Store(dst + 8);
    }

    /// <summary>Columns [n0, n1) of every row with F32 or BF16 (<typeparamref name="TWeights"/>) weights at <paramref name="w"/>.</summary>
    private static unsafe void DotChunk256<TWeights>(float* x, int rows, int k, void* w, int n, float* y, int n0, int n1, CpuIsa isa)
        where TWeights : struct, IWeightFormat
    {
        if (isa == CpuIsa.Vector256Fma) DotChunk256<FusedMultiplyAdd, TWeights>(x, rows, k, w, n, y, n0, n1);
        else DotChunk256<MultiplyThenAdd, TWeights>(x, rows, k, w, n, y, n0, n1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotChunk256<TMad, TWeights>(float* x, int rows, int k, void* w, int n, float* y, int n0, int n1)
        where TMad : struct, IMultiplyAdd
        where TWeights : struct, IWeightFormat
    {
        if (rows == 1 && k >= 8)
        {
            Gemv256<TMad, TWeights>(x, k, w, y, n0, n1);
            return;
        }
        for (int j = n0; j < n1; j += DotCols)
        {
            int cols = Math.Min(DotCols, n1 - j);
            // A short last block repeats row j instead of reading past w; the repeats are computed and dropped.
            nint o1 = cols > 1 ? k : 0, o2 = cols > 2 ? 2 * k : 0, o3 = cols > 3 ? 3 * k : 0;
            nint wj = (nint)j * k;
            int r = 0;
            for (; r + 2 <= rows; r += 2) DotKernel256<Two, TMad, TWeights>(w, wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols);
            if (r < rows) DotKernel256<One, TMad, TWeights>(w, wj, o1, o2, o3, x + (long)r * k, k, y + (long)r * n + j, n, cols);
        }
    }

    /// <summary>Decode (one x row): one w row at a time, four accumulators over K, one sequential stream per worker.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Gemv256<TMad, TWeights>(float* x, int k, void* w, float* y, int n0, int n1)
        where TMad : struct, IMultiplyAdd
        where TWeights : struct, IWeightFormat
    {
        for (int j = n0; j < n1; j++)
        {
            nint wr = (nint)j * k;
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i + 32 <= k; i += 32)
            {
                a0 = TMad.Apply(Vector256.Load(x + i), TWeights.Load(w, wr + i), a0);
                a1 = TMad.Apply(Vector256.Load(x + i + 8), TWeights.Load(w, wr + i + 8), a1);
                a2 = TMad.Apply(Vector256.Load(x + i + 16), TWeights.Load(w, wr + i + 16), a2);
                a3 = TMad.Apply(Vector256.Load(x + i + 24), TWeights.Load(w, wr + i + 24), a3);
            }
            for (; i + 8 <= k; i += 8) a0 = TMad.Apply(Vector256.Load(x + i), TWeights.Load(w, wr + i), a0);
            float sum = Vector256.Sum((a0 + a1) + (a2 + a3));
            for (; i < k; i++) sum += x[i] * TWeights.Scalar(w, wr + i);
            y[j] = sum;
        }
    }

    /// <summary>y[r, c] = x[r] · w[c] for TRows (1 or 2) rows of x and the w rows at w0, w0 + o1, w0 + o2, w0 + o3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DotKernel256<TRows, TMad, TWeights>(void* w, nint w0, nint o1, nint o2, nint o3, float* x, int k, float* y, int n, int cols)
        where TRows : struct, IConstant
        where TMad : struct, IMultiplyAdd
        where TWeights : struct, IWeightFormat
    {
        int rx = TRows.Value;
        float* x1 = x + (rx > 1 ? k : 0);
        nint w1 = w0 + o1, w2 = w0 + o2, w3 = w0 + o3;
        Vector256<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<float> a10 = default, a11 = default, a12 = default, a13 = default;
        int i = 0;
        for (; i + 8 <= k; i += 8)
        {
            var v0 = TWeights.Load(w, w0 + i);
            var v1 = TWeights.Load(w, w1 + i);
            var v2 = TWeights.Load(w, w2 + i);
            var v3 = TWeights.Load(w, w3 + i);
            var xv = Vector256.Load(x + i);
            a00 = TMad.Apply(v0, xv, a00);
            a01 = TMad.Apply(v1, xv, a01);
            a02 = TMad.Apply(v2, xv, a02);
            a03 = TMad.Apply(v3, xv, a03);
            if (rx > 1)
            {
                xv = Vector256.Load(x1 + i);
                a10 = TMad.Apply(v0, xv, a10);
                a11 = TMad.Apply(v1, xv, a11);
                a12 = TMad.Apply(v2, xv, a12);
                a13 = TMad.Apply(v3, xv, a13);
            }
        }
        StoreDots256<TWeights>(a00, a01, a02, a03, w, w0, w1, w2, w3, x, i, k, y, cols);
        if (rx > 1) StoreDots256<TWeights>(a10, a11, a12, a13, w, w0, w1, w2, w3, x1, i, k, y + n, cols);
    }

    /// <summary>Reduces one x row's accumulators, adds the K tail [i, k) and stores the first <paramref name="cols"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void StoreDots256<TWeights>(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        void* w, nint w0, nint w1, nint w2, nint w3, float* x, int i, int k, float* y, int cols)
        where TWeights : struct, IWeightFormat
    {
        float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
        for (; i < k; i++)
        {
            float xv = x[i];
            s0 += TWeights.Scalar(w, w0 + i) * xv;
            s1 += TWeights.Scalar(w, w1 + i) * xv;
            s2 += TWeights.Scalar(w, w2 + i) * xv;
            s3 += TWeights.Scalar(w, w3 + i) * xv;
        }
        y[0] = s0;
        if (cols > 1) y[1] = s1;
        if (cols > 2) y[2] = s2;
        if (cols > 3) y[3] = s3;
    }
}

/// <summary>How the portable dot kernels read weights: 8 (or 1) at an element offset, as F32.</summary>
internal unsafe interface IWeightFormat
{
    static abstract Vector256<float> Load(void* w, nint index);

    static abstract float Scalar(void* w, nint index);
}

internal readonly unsafe struct F32Weights : IWeightFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* w, nint index) => Vector256.Load((float*)w + index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scalar(void* w, nint index) => ((float*)w)[index];
}

/// <summary>BF16 bits widened in registers: zero-extend 8 ushorts to 32 bits and shift them into the top half.</summary>
internal readonly unsafe struct Bf16Weights : IWeightFormat
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Load(void* w, nint index) =>
        Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load((ushort*)w + index).ToVector256Unsafe()), 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scalar(void* w, nint index) => WeightMatrix.FromBf16(((ushort*)w)[index]);
}
