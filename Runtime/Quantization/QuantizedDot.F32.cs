using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// The exact path's register kernels for one x row (decode): two weight rows at once, one from each half of the range
// (two independent streams of loads in flight); each block's integers are widened to F32 and multiplied into the x
// vectors (s = Σ q·x), and the block's scale multiplies the sum once (acc += d · s). Per 32-value block the x vectors
// are loaded once for both rows.
public static unsafe partial class QuantizedDot
{
    private static bool HasF32Kernel(GgmlType type) =>
        type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotF32(GgmlType type, byte* w, long rowBytes, int k, float* x, float* y, int n0, int n1)
    {
        // Row j pairs with row j + half; an odd count's middle row pairs with itself.
        int count = n1 - n0, half = (count + 1) / 2;
        for (int i = 0; i < half; i++)
        {
            int j0 = n0 + i, j1 = i + half < count ? j0 + half : j0;
            byte* w0 = w + j0 * rowBytes, w1 = w + j1 * rowBytes;
            float y0, y1;
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0Pair(w0, w1, x, k / 32, out y0, out y1); break;
                case GgmlType.Q4_0: Q4_0Pair(w0, w1, x, k / 32, out y0, out y1); break;
                case GgmlType.Q4_K: Q4_KPair(w0, w1, x, k / GgmlTypes.SuperBlock, hasFifthBit: false, out y0, out y1); break;
                case GgmlType.Q5_K: Q4_KPair(w0, w1, x, k / GgmlTypes.SuperBlock, hasFifthBit: true, out y0, out y1); break;
                case GgmlType.Q6_K: Q6_KPair(w0, w1, x, k / GgmlTypes.SuperBlock, out y0, out y1); break;
                default: throw new UnreachableException();
            }
            y[j1] = y1;
            y[j0] = y0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q8_0Pair(byte* w0, byte* w1, float* x, int blocks, out float y0, out float y1)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        for (int b = 0; b < blocks; b++, w0 += 34, w1 += 34, x += 32)
        {
            var x0 = Avx.LoadVector256(x);
            var x1 = Avx.LoadVector256(x + 8);
            var x2 = Avx.LoadVector256(x + 16);
            var x3 = Avx.LoadVector256(x + 24);
            acc0 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w0)), Q8_0Sum((sbyte*)(w0 + 2), x0, x1, x2, x3), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w1)), Q8_0Sum((sbyte*)(w1 + 2), x0, x1, x2, x3), acc1);
        }
        y0 = Vector256.Sum(acc0);
        y1 = Vector256.Sum(acc1);
    }

    /// <summary>Σ q·x over one Q8_0 block's 32 int8 values, as 8 partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q8_0Sum(sbyte* qs, Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3)
    {
        var s = Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qs)), x0);
        var t = Avx.Multiply(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qs + 8)), x1);
        s = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qs + 16)), x2, s);
        t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(qs + 24)), x3, t);
        return Avx.Add(s, t);
    }

    /// <remarks>
    /// Q4_0's values are (nibble − 8)·d: the kernel sums nibble·x and takes 8·d·Σx off at the end (Σx per block is
    /// shared by both rows), which saves a subtraction per 8 values.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_0Pair(byte* w0, byte* w1, float* x, int blocks, out float y0, out float y1)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, offset0 = acc0, offset1 = acc0;
        for (int b = 0; b < blocks; b++, w0 += 18, w1 += 18, x += 32)
        {
            var x0 = Avx.LoadVector256(x);
            var x1 = Avx.LoadVector256(x + 8);
            var x2 = Avx.LoadVector256(x + 16);
            var x3 = Avx.LoadVector256(x + 24);
            var xSum = Avx.Add(Avx.Add(x0, x1), Avx.Add(x2, x3));
            var d0 = Vector256.Create(HalfFloat.ToSingle(w0));
            var d1 = Vector256.Create(HalfFloat.ToSingle(w1));
            acc0 = Fma.MultiplyAdd(d0, NibbleSum(w0 + 2, x0, x1, x2, x3), acc0);
            acc1 = Fma.MultiplyAdd(d1, NibbleSum(w1 + 2, x0, x1, x2, x3), acc1);
            offset0 = Fma.MultiplyAdd(d0, xSum, offset0);
            offset1 = Fma.MultiplyAdd(d1, xSum, offset1);
        }
        var eight = Vector256.Create(8f);
        y0 = Vector256.Sum(Fma.MultiplyAddNegated(eight, offset0, acc0));
        y1 = Vector256.Sum(Fma.MultiplyAddNegated(eight, offset1, acc1));
    }

    /// <summary>Σ q·x over a Q4_0 block's 32 nibbles: value l is the low nibble of byte l, value l + 16 its high nibble.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> NibbleSum(byte* qs, Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3)
    {
        var low = Vector256.Create(0x0F);
        var a = Avx2.ConvertToVector256Int32(qs);
        var b = Avx2.ConvertToVector256Int32(qs + 8);
        var s = Avx.Multiply(Avx.ConvertToVector256Single(a & low), x0);
        var t = Avx.Multiply(Avx.ConvertToVector256Single(b & low), x1);
        s = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(a, 4)), x2, s);
        t = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(b, 4)), x3, t);
        return Avx.Add(s, t);
    }
}
