using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// Q4_0 and Q8_0 weights against x in 8-bit blocks of 32 (one d_x per weight block): two weight rows (two streams)
// and one or two x rows per pass, each block's integer dot product scaled once by d_w · d_x.
public static unsafe partial class QuantizedDot
{
    /// <remarks>
    /// The nibbles (0..15) are the unsigned operand of vpmaddubsw as they are; their −8 is taken off at the end as
    /// d_w · 8·d_x·Σq_x per block, a scalar term per block and row.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0Int8<TRows>(byte* w0, byte* w1, Int8X x, int row, float* y, int n, int j0, int j1) where TRows : struct, IRowCount
    {
        var low = Vector256.Create((byte)0x0F);
        var ones = Vector256.Create((short)1);
        Vector256<float> a00 = Vector256<float>.Zero, a01 = a00, a10 = a00, a11 = a00;
        float c00 = 0, c01 = 0, c10 = 0, c11 = 0;
        int blocks = x.Blocks;
        sbyte* q0 = x.Values + (long)row * x.K, q1 = q0 + x.K;
        float* scales = x.Scales + (long)row * blocks, sums = x.Sums + (long)row * blocks;
        for (int b = 0; b < blocks; b++, w0 += 18, w1 += 18, q0 += 32, q1 += 32)
        {
            var packed0 = Sse2.LoadVector128(w0 + 2);
            var packed1 = Sse2.LoadVector128(w1 + 2);
            var n0 = Vector256.Create(packed0, Sse2.ShiftRightLogical(packed0.AsUInt16(), 4).AsByte()) & low;
            var n1 = Vector256.Create(packed1, Sse2.ShiftRightLogical(packed1.AsUInt16(), 4).AsByte()) & low;
            float d0 = HalfFloat.ToSingle(w0), d1 = HalfFloat.ToSingle(w1);

            var x0 = Avx.LoadVector256(q0);
            float dx0 = scales[b], sx0 = 8 * sums[b];
            a00 = Fma.MultiplyAdd(Vector256.Create(d0 * dx0), ByteDot(n0, x0, ones), a00);
            a10 = Fma.MultiplyAdd(Vector256.Create(d1 * dx0), ByteDot(n1, x0, ones), a10);
            c00 += d0 * sx0;
            c10 += d1 * sx0;
            if (TRows.Count > 1)
            {
                var x1 = Avx.LoadVector256(q1);
                float dx1 = scales[blocks + b], sx1 = 8 * sums[blocks + b];
                a01 = Fma.MultiplyAdd(Vector256.Create(d0 * dx1), ByteDot(n0, x1, ones), a01);
                a11 = Fma.MultiplyAdd(Vector256.Create(d1 * dx1), ByteDot(n1, x1, ones), a11);
                c01 += d0 * sx1;
                c11 += d1 * sx1;
            }
        }
        y[j1] = Vector256.Sum(a10) - c10;
        y[j0] = Vector256.Sum(a00) - c00;
        if (TRows.Count > 1)
        {
            y[n + j1] = Vector256.Sum(a11) - c11;
            y[n + j0] = Vector256.Sum(a01) - c01;
        }
    }

    /// <remarks>Signed × signed bytes: vpmaddubsw wants its first operand unsigned, so it gets |q_w| and x takes q_w's sign.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0Int8<TRows>(byte* w0, byte* w1, Int8X x, int row, float* y, int n, int j0, int j1) where TRows : struct, IRowCount
    {
        var ones = Vector256.Create((short)1);
        Vector256<float> a00 = Vector256<float>.Zero, a01 = a00, a10 = a00, a11 = a00;
        int blocks = x.Blocks;
        sbyte* q0 = x.Values + (long)row * x.K, q1 = q0 + x.K;
        float* scales = x.Scales + (long)row * blocks;
        for (int b = 0; b < blocks; b++, w0 += 34, w1 += 34, q0 += 32, q1 += 32)
        {
            var v0 = Avx.LoadVector256((sbyte*)w0 + 2);
            var v1 = Avx.LoadVector256((sbyte*)w1 + 2);
            var abs0 = Avx2.Sign(v0, v0).AsByte();
            var abs1 = Avx2.Sign(v1, v1).AsByte();
            float d0 = HalfFloat.ToSingle(w0), d1 = HalfFloat.ToSingle(w1);

            var x0 = Avx.LoadVector256(q0);
            float dx0 = scales[b];
            a00 = Fma.MultiplyAdd(Vector256.Create(d0 * dx0), ByteDot(abs0, Avx2.Sign(x0, v0), ones), a00);
            a10 = Fma.MultiplyAdd(Vector256.Create(d1 * dx0), ByteDot(abs1, Avx2.Sign(x0, v1), ones), a10);
            if (TRows.Count > 1)
            {
                var x1 = Avx.LoadVector256(q1);
                float dx1 = scales[blocks + b];
                a01 = Fma.MultiplyAdd(Vector256.Create(d0 * dx1), ByteDot(abs0, Avx2.Sign(x1, v0), ones), a01);
                a11 = Fma.MultiplyAdd(Vector256.Create(d1 * dx1), ByteDot(abs1, Avx2.Sign(x1, v1), ones), a11);
            }
        }
        y[j1] = Vector256.Sum(a10);
        y[j0] = Vector256.Sum(a00);
        if (TRows.Count > 1)
        {
            y[n + j1] = Vector256.Sum(a11);
            y[n + j0] = Vector256.Sum(a01);
        }
    }
}
