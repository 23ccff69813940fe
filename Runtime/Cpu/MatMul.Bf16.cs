using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Tessera.Parallelism;

namespace Tessera.Cpu;

// Products with a WeightMatrix. F32 weights go to the F32 kernels. BF16 weights: decode and small batches (fewer
// than GemmMinRows rows) stream the 2-byte weights once and widen them in registers (a bf16 is the top half of an
// f32, so widening is a shift), accumulating in F32 — half the bytes of F32 for memory-bound decode. Prefill is
// compute-bound: on AVX512-BF16 the GEMM multiplies the BF16 weights as stored (MatMul.Bf16Gemm.cs), elsewhere it widens
// each column chunk of the weights into a worker's buffer as it goes. Without AVX-512 the same split holds (MatMul.Portable.cs): the dot kernels widen 8 weights at a time in registers.
public static partial class CpuKernels
{
    /// <summary>y (T, N) = x (T, K) · wᵀ for F32 or BF16 weights; the epilogue as in the F32 overload.</summary>
    public static void MatMul(CpuExecution cpu, float[] x, int rows, int k, WeightMatrix w, int n, float[] y, Epilogue? epilogue = null) =>
        MatMul(cpu, x, rows, k, w, n, y, epilogue, DetectedIsa);

    /// <summary>The product with the kernels written for <paramref name="isa"/> (tests run every level the machine can).</summary>
    internal static void MatMul(CpuExecution cpu, float[] x, int rows, int k, WeightMatrix w, int n, float[] y, Epilogue? epilogue, CpuIsa isa)
    {
        if (w.F32 is { } f32)
        {
            MatMul(cpu, x, rows, k, f32, n, y, epilogue, isa);
            return;
        }
        if (w.Rows != n || w.Cols != k)
            throw new ArgumentException($"MatMul with a ({w.Rows}, {w.Cols}) weight matrix cannot make ({n}, {k}).", nameof(w));
        CheckLength(x, (long)rows * k, nameof(x));
        CheckLength(y, (long)rows * n, nameof(y));
        if (rows == 0 || n == 0) return;

        // Prompts (the GEMM), the AVX-512 special case of a tiny K and the dot kernels: one product of a fused call
        // (MatMul.Fused.cs) picks among them.
        MatMul(cpu, x, rows, k, [new MatMulTarget(w, n, y, epilogue)], isa);
    }

    /// <summary>
    /// A row-parallel product (Megatron) with F32 or BF16 weights: this rank multiplies its slice of the input
    /// features, the group all-reduces the partial sums, and only then does the epilogue run (bias, residual add): it
    /// must see the whole sum, once. With a group of one this is a plain MatMul with the epilogue fused.
    /// </summary>
    public static void RowParallelMatMul(CpuExecution cpu, float[] x, int rows, int k, WeightMatrix w, int n, float[] y, ICollectiveGroup group, Epilogue? epilogue = null)
    {
        if (group.Size == 1)
        {
            MatMul(cpu, x, rows, k, w, n, y, epilogue);
            return;
        }
        MatMul(cpu, x, rows, k, w, n, y);
        group.AllReduceSum(y, rows * n);
        if (epilogue is not null)
            for (int r = 0; r < rows; r++) epilogue(y.AsSpan(r * n, n), r, 0);
    }

    /// <summary>Columns [n0, n1) of every row: each weight row is read once, 32 values at a time, for all x rows.</summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Bf16Chunk(float[] xArray, int rows, int k, ushort[] wArray, int n, float[] yArray, int n0, int n1)
    {
        if (rows == 1)
        {
            Bf16Gemv(xArray, k, wArray, yArray, n0, n1);
            return;
        }
        Span<Vector512<float>> acc = stackalloc Vector512<float>[2 * rows];
        fixed (float* x = xArray, y = yArray)
        fixed (ushort* w = wArray)
        {
            for (int j = n0; j < n1; j++)
            {
                ushort* wr = w + (long)j * k;
                acc.Clear();
                int i = 0;
                for (; i + 32 <= k; i += 32)
                {
                    var bits = Vector512.Load(wr + i);
                    var lo = WeightMatrix.LowerAsF32(bits);
                    var hi = WeightMatrix.UpperAsF32(bits);
                    for (int r = 0; r < rows; r++)
                    {
                        float* xr = x + (long)r * k + i;
                        acc[2 * r] = Vector512.FusedMultiplyAdd(Vector512.Load(xr), lo, acc[2 * r]);
                        acc[2 * r + 1] = Vector512.FusedMultiplyAdd(Vector512.Load(xr + 16), hi, acc[2 * r + 1]);
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    float sum = Vector512.Sum(acc[2 * r] + acc[2 * r + 1]);
                    for (int t = i; t < k; t++) sum += x[(long)r * k + t] * WeightMatrix.FromBf16(wr[t]);
                    y[(long)r * n + j] = sum;
                }
            }
        }
    }

    /// <summary>
    /// Decode (one x row): two weight rows at once, from the two halves of the range (two sequential streams), four
    /// accumulators each, 64 weights per step.
    /// </summary>
    /// <remarks>
    /// Widening costs instructions per byte, so one stream kept fewer cache lines in flight than the F32 kernel does and
    /// read BF16 weights at 60-70% of the F32 kernel's bytes per second; a second, independent stream doubles the
    /// loads the core can have outstanding.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Bf16Gemv(float[] xArray, int k, ushort[] wArray, float[] yArray, int n0, int n1)
    {
        int half = (n1 - n0 + 1) / 2;
        fixed (float* x = xArray, y = yArray)
        fixed (ushort* w = wArray)
        {
            for (int r = 0; r < half; r++)
            {
                int j = n0 + r, j2 = n0 + half + r;
                bool two = j2 < n1;
                ushort* wa = w + (long)j * k, wb = two ? w + (long)j2 * k : wa;
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                int i = 0;
                for (; i + 64 <= k; i += 64)
                {
                    var x0 = Vector512.Load(x + i);
                    var x1 = Vector512.Load(x + i + 16);
                    var x2 = Vector512.Load(x + i + 32);
                    var x3 = Vector512.Load(x + i + 48);
                    var p0 = Vector512.Load(wa + i);
                    var p1 = Vector512.Load(wa + i + 32);
                    var q0 = Vector512.Load(wb + i);
                    var q1 = Vector512.Load(wb + i + 32);
                    a0 = Vector512.FusedMultiplyAdd(x0, WeightMatrix.LowerAsF32(p0), a0);
                    a1 = Vector512.FusedMultiplyAdd(x1, WeightMatrix.UpperAsF32(p0), a1);
                    a2 = Vector512.FusedMultiplyAdd(x2, WeightMatrix.LowerAsF32(p1), a2);
                    a3 = Vector512.FusedMultiplyAdd(x3, WeightMatrix.UpperAsF32(p1), a3);
                    b0 = Vector512.FusedMultiplyAdd(x0, WeightMatrix.LowerAsF32(q0), b0);
                    b1 = Vector512.FusedMultiplyAdd(x1, WeightMatrix.UpperAsF32(q0), b1);
                    b2 = Vector512.FusedMultiplyAdd(x2, WeightMatrix.LowerAsF32(q1), b2);
                    b3 = Vector512.FusedMultiplyAdd(x3, WeightMatrix.UpperAsF32(q1), b3);
                }
                for (; i + 32 <= k; i += 32)
                {
                    var x0 = Vector512.Load(x + i);
                    var x1 = Vector512.Load(x + i + 16);
                    var p = Vector512.Load(wa + i);
                    var q = Vector512.Load(wb + i);
                    a0 = Vector512.FusedMultiplyAdd(x0, WeightMatrix.LowerAsF32(p), a0);
                    a1 = Vector512.FusedMultiplyAdd(x1, WeightMatrix.UpperAsF32(p), a1);
                    b0 = Vector512.FusedMultiplyAdd(x0, WeightMatrix.LowerAsF32(q), b0);
                    b1 = Vector512.FusedMultiplyAdd(x1, WeightMatrix.UpperAsF32(q), b1);
                }
                float sumA = Vector512.Sum((a0 + a1) + (a2 + a3)), sumB = Vector512.Sum((b0 + b1) + (b2 + b3));
                for (; i < k; i++)
                {
                    sumA += x[i] * WeightMatrix.FromBf16(wa[i]);
                    sumB += x[i] * WeightMatrix.FromBf16(wb[i]);
                }
                y[j] = sumA;
                if (two) y[j2] = sumB;
            }
        }
    }
}
