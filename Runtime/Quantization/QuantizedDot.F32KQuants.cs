using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// The exact path's register kernels for the K types and one x row. A super-block's sub-block scales (d·sc) and mins
// (dmin·m) are unpacked to floats once per row; each sub-block's Σ q·x is then scaled once, and for Q4_K/Q5_K the
// min term dmin·m·Σx uses x's sub-block sums, which both rows share.
public static unsafe partial class QuantizedDot
{
    /// <summary>Q4_K, or Q5_K with <paramref name="hasFifthBit"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_KPair(byte* w0, byte* w1, float* x, int superBlocks, bool hasFifthBit, out float y0, out float y1)
    {
        float* scales0 = stackalloc float[16];
        float* scales1 = stackalloc float[16];
        int blockBytes = hasFifthBit ? 176 : 144, nibbles = hasFifthBit ? 48 : 16;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0, mins0 = acc0, mins1 = acc0;
        for (int sb = 0; sb < superBlocks; sb++, w0 += blockBytes, w1 += blockBytes, x += 256)
        {
            UnpackScalesMins(w0, scales0);
            UnpackScalesMins(w1, scales1);
            for (int p = 0; p < 4; p++)
            {
                float* xp = x + 64 * p;
                var sumA = XSum32(xp);
                var sumB = XSum32(xp + 32);
                NibbleSums64(w0 + nibbles + 32 * p, w0 + 16, hasFifthBit, 2 * p, xp, out var a0, out var b0);
                NibbleSums64(w1 + nibbles + 32 * p, w1 + 16, hasFifthBit, 2 * p, xp, out var a1, out var b1);
                acc0 = Fma.MultiplyAdd(Vector256.Create(scales0[2 * p]), a0, acc0);
                acc0 = Fma.MultiplyAdd(Vector256.Create(scales0[2 * p + 1]), b0, acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Create(scales1[2 * p]), a1, acc1);
                acc1 = Fma.MultiplyAdd(Vector256.Create(scales1[2 * p + 1]), b1, acc1);
                mins0 = Fma.MultiplyAdd(Vector256.Create(scales0[8 + 2 * p]), sumA, mins0);
                mins0 = Fma.MultiplyAdd(Vector256.Create(scales0[8 + 2 * p + 1]), sumB, mins0);
                mins1 = Fma.MultiplyAdd(Vector256.Create(scales1[8 + 2 * p]), sumA, mins1);
                mins1 = Fma.MultiplyAdd(Vector256.Create(scales1[8 + 2 * p + 1]), sumB, mins1);
            }
        }
        y0 = Vector256.Sum(Avx.Subtract(acc0, mins0));
        y1 = Vector256.Sum(Avx.Subtract(acc1, mins1));
    }

    /// <summary>A Q4_K/Q5_K super-block's eight d·sc (to <c>unpacked[0..7]</c>) and eight dmin·m (to <c>[8..15]</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackScalesMins(byte* block, float* unpacked)
    {
        float d = HalfFloat.ToSingle(block), dmin = HalfFloat.ToSingle(block + 2);
        for (int j = 0; j < 8; j++)
        {
            Dequantize.ScaleMinK4(j, block + 4, out int scale, out int min);
            unpacked[j] = d * scale;
            unpacked[8 + j] = dmin * min;
        }
    }

    /// <summary>The 32 floats at <paramref name="x"/> summed to 8.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> XSum32(float* x) =>
        Avx.Add(Avx.Add(Avx.LoadVector256(x), Avx.LoadVector256(x + 8)), Avx.Add(Avx.LoadVector256(x + 16), Avx.LoadVector256(x + 24)));

    /// <summary>
    /// 64 values as 32 bytes of nibbles (value l the low nibble of byte l, value 32 + l its high nibble), with Q5_K's
    /// fifth bits when <paramref name="hasFifthBit"/> (bit <paramref name="bit"/> of <c>qh[l]</c> for value l, the
    /// next bit for value 32 + l): Σ q·x of the first 32 (<paramref name="low"/>) and of the last 32 (<paramref name="high"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NibbleSums64(byte* qs, byte* qh, bool hasFifthBit, int bit, float* x, out Vector256<float> low, out Vector256<float> high)
    {
        var mask = Vector256.Create(0x0F);
        var fifth = Vector256.Create(0x10);
        low = Vector256<float>.Zero;
        high = Vector256<float>.Zero;
        for (int l = 0; l < 32; l += 8)
        {
            var q = Avx2.ConvertToVector256Int32(qs + l);
            var q1 = q & mask;
            var q2 = Avx2.ShiftRightLogical(q, 4);
            if (hasFifthBit)
            {
                // qh << 4 puts bit b at 4 + b; shifting right by bit (then bit + 1) brings this pair's bits to bit 4.
                var h = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(qh + l), 4);
                q1 |= Avx2.ShiftRightLogical(h, Vector128.CreateScalar(bit)) & fifth;
                q2 |= Avx2.ShiftRightLogical(h, Vector128.CreateScalar(bit + 1)) & fifth;
            }
            low = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q1), Avx.LoadVector256(x + l), low);
            high = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q2), Avx.LoadVector256(x + 32 + l), high);
        }
    }

    /// <remarks>Q6_K has no mins; each 16 values have their own int8 scale, so each pair of 8-value steps is scaled once.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6_KPair(byte* w0, byte* w1, float* x, int superBlocks, out float y0, out float y1)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        for (int sb = 0; sb < superBlocks; sb++, w0 += 210, w1 += 210, x += 256)
        {
            float d0 = HalfFloat.ToSingle(w0 + 208), d1 = HalfFloat.ToSingle(w1 + 208);
            for (int half = 0; half < 2; half++)
            {
                float* xh = x + 128 * half;
                for (int group = 0; group < 2; group++)
                {
                    acc0 = Q6_KGroup(w0, half, group, d0, xh, acc0);
                    acc1 = Q6_KGroup(w1, half, group, d1, xh, acc1);
                }
            }
        }
        y0 = Vector256.Sum(acc0);
        y1 = Vector256.Sum(acc1);
    }

    /// <summary>
    /// Values 16·group + [0, 16) of each 32-value quarter of one 128-value half of a Q6_K super-block: four runs of
    /// 16 values, each with its own scale, added to <paramref name="acc"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Q6_KGroup(byte* block, int half, int group, float d, float* x, Vector256<float> acc)
    {
        var mask = Vector256.Create(0x0F);
        var two = Vector256.Create(0x30);
        var offset = Vector256.Create(32);
        byte* ql = block + 64 * half, qh = block + 128 + 32 * half;
        sbyte* sc = (sbyte*)(block + 192 + 8 * half) + group;
        Vector256<float> s1 = Vector256<float>.Zero, s2 = s1, s3 = s1, s4 = s1;
        for (int l = 16 * group; l < 16 * group + 16; l += 8)
        {
            var a = Avx2.ConvertToVector256Int32(ql + l);
            var b = Avx2.ConvertToVector256Int32(ql + 32 + l);
            var h = Avx2.ConvertToVector256Int32(qh + l);
            var q1 = ((a & mask) | (Avx2.ShiftLeftLogical(h, 4) & two)) - offset;
            var q2 = ((b & mask) | (Avx2.ShiftLeftLogical(h, 2) & two)) - offset;
            var q3 = (Avx2.ShiftRightLogical(a, 4) | (h & two)) - offset;
            var q4 = (Avx2.ShiftRightLogical(b, 4) | (Avx2.ShiftRightLogical(h, 2) & two)) - offset;
            s1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q1), Avx.LoadVector256(x + l), s1);
            s2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q2), Avx.LoadVector256(x + 32 + l), s2);
            s3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q3), Avx.LoadVector256(x + 64 + l), s3);
            s4 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(q4), Avx.LoadVector256(x + 96 + l), s4);
        }
        acc = Fma.MultiplyAdd(Vector256.Create(d * sc[0]), s1, acc);
        acc = Fma.MultiplyAdd(Vector256.Create(d * sc[2]), s2, acc);
        acc = Fma.MultiplyAdd(Vector256.Create(d * sc[4]), s3, acc);
        return Fma.MultiplyAdd(Vector256.Create(d * sc[6]), s4, acc);
    }
}
