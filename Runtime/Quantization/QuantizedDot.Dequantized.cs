using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// The exact path: chunks of weight rows are dequantized (the same floats Dequantize.Row gives) into buffers that stay
// in L1, and multiplied with x in F32. One x row: two weight rows at a time, each x vector loaded once for both.
// Several: one weight row's chunk against up to four x rows at a time, each weight vector loaded once for all four.
public static unsafe partial class QuantizedDot
{
    /// <summary>Values dequantized per weight row at a time: one K super-block, eight 32-value blocks.</summary>
    private const int ChunkValues = 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotDequantized(GgmlType type, byte* w, long rowBytes, int k, float* x, int xRows, float* y, int n, int n0, int n1)
    {
        int blockValues = GgmlTypes.BlockElements(type), blockBytes = GgmlTypes.BlockBytes(type);
        float* first = stackalloc float[ChunkValues];
        float* second = stackalloc float[ChunkValues];
        int step = xRows == 1 ? 2 : 1;
        for (int j = n0; j < n1; j += step)
        {
            bool pair = xRows == 1 && j + 1 < n1;
            for (int r = 0; r < xRows; r++) y[(long)r * n + j] = 0;
            if (pair) y[j + 1] = 0;
            byte* w0 = w + j * rowBytes;
            for (int c = 0; c < k; c += ChunkValues)
            {
                int values = Math.Min(ChunkValues, k - c);
                long offset = (long)(c / blockValues) * blockBytes;
                Dequantize.Blocks(type, w0 + offset, first, values / blockValues);
                if (xRows == 1)
                {
                    if (pair) Dequantize.Blocks(type, w0 + rowBytes + offset, second, values / blockValues);
                    Dot2(first, pair ? second : first, x + c, values, out float a, out float b);
                    y[j] += a;
                    if (pair) y[j + 1] += b;
                    continue;
                }
                for (int r = 0; r < xRows; r += 4)
                {
                    // A short last group repeats its first row; the repeats are computed and dropped.
                    float* x0 = x + (long)r * k + c;
                    float* x1 = r + 1 < xRows ? x0 + k : x0, x2 = r + 2 < xRows ? x0 + 2L * k : x0, x3 = r + 3 < xRows ? x0 + 3L * k : x0;
                    var sums = Dot4(first, x0, x1, x2, x3, values);
                    for (int i = 0; i < 4 && r + i < xRows; i++) y[(long)(r + i) * n + j] += sums[i];
                }
            }
        }
    }

    /// <summary>(a · x, b · x) over <paramref name="length"/> floats, each x vector loaded once for both.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot2(float* a, float* b, float* x, int length, out float ax, out float bx)
    {
        int i = 0;
        float sumA = 0, sumB = 0;
        if (Fma.IsSupported && length >= 16)
        {
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, b0 = a0, b1 = a0;
            for (; i + 16 <= length; i += 16)
            {
                var x0 = Avx.LoadVector256(x + i);
                var x1 = Avx.LoadVector256(x + i + 8);
                a0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), x0, a0);
                a1 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 8), x1, a1);
                b0 = Fma.MultiplyAdd(Avx.LoadVector256(b + i), x0, b0);
                b1 = Fma.MultiplyAdd(Avx.LoadVector256(b + i + 8), x1, b1);
            }
            sumA = Vector256.Sum(a0 + a1);
            sumB = Vector256.Sum(b0 + b1);
        }
        else if (Vector256.IsHardwareAccelerated && length >= 8)
        {
            Vector256<float> a0 = Vector256<float>.Zero, b0 = a0;
            for (; i + 8 <= length; i += 8)
            {
                var x0 = Vector256.Load(x + i);
                a0 += Vector256.Load(a + i) * x0;
                b0 += Vector256.Load(b + i) * x0;
            }
            sumA = Vector256.Sum(a0);
            sumB = Vector256.Sum(b0);
        }
        for (; i < length; i++)
        {
            sumA += a[i] * x[i];
            sumB += b[i] * x[i];
        }
        ax = sumA;
        bx = sumB;
    }

    /// <summary>(w · x0, w · x1, w · x2, w · x3) over <paramref name="length"/> floats, each w vector loaded once for all four.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Vector128<float> Dot4(float* w, float* x0, float* x1, float* x2, float* x3, int length)
    {
        int i = 0;
        Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
        if (Fma.IsSupported)
        {
            for (; i + 8 <= length; i += 8)
            {
                var v = Avx.LoadVector256(w + i);
                s0 = Fma.MultiplyAdd(v, Avx.LoadVector256(x0 + i), s0);
                s1 = Fma.MultiplyAdd(v, Avx.LoadVector256(x1 + i), s1);
                s2 = Fma.MultiplyAdd(v, Avx.LoadVector256(x2 + i), s2);
                s3 = Fma.MultiplyAdd(v, Avx.LoadVector256(x3 + i), s3);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= length; i += 8)
            {
                var v = Vector256.Load(w + i);
                s0 += v * Vector256.Load(x0 + i);
                s1 += v * Vector256.Load(x1 + i);
                s2 += v * Vector256.Load(x2 + i);
                s3 += v * Vector256.Load(x3 + i);
            }
        }
        float t0 = Vector256.Sum(s0), t1 = Vector256.Sum(s1), t2 = Vector256.Sum(s2), t3 = Vector256.Sum(s3);
        for (; i < length; i++)
        {
            t0 += w[i] * x0[i];
            t1 += w[i] * x1[i];
            t2 += w[i] * x2[i];
            t3 += w[i] * x3[i];
        }
        return Vector128.Create(t0, t1, t2, t3);
    }
}
