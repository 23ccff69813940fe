using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// Q4_K, Q5_K and Q6_K weights against x as Q8_K blocks (256 values, one F32 d_x, Σq_x per 16 values), after ggml's
// AVX2 ggml_vec_dot_q{4,5,6}_K_q8_K: two weight rows (two streams) and one x row per pass. Within a super-block the
// sub-block scales multiply the 16-bit pair sums as integers (vpmaddwd), so the 32-bit sums add up over the whole
// super-block and are converted and scaled (d_w · d_x) once; the mins (Q4_K, Q5_K) and the offset of 32 (Q6_K) are
// integer dot products of the sub-block scales with x's sums.
public static unsafe partial class QuantizedDot
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q4_KInt8(byte* w0, byte* w1, Int8X x, int row, out float y0, out float y1) =>
        FourBitKInt8(w0, w1, x, row, blockBytes: 144, hasFifthBit: false, out y0, out y1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q5_KInt8(byte* w0, byte* w1, Int8X x, int row, out float y0, out float y1) =>
        FourBitKInt8(w0, w1, x, row, blockBytes: 176, hasFifthBit: true, out y0, out y1);

    /// <summary>Q4_K (nibbles at byte 16), or Q5_K with <paramref name="hasFifthBit"/> (fifth bits at 16, nibbles at 48).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourBitKInt8(byte* w0, byte* w1, Int8X x, int row, int blockBytes, bool hasFifthBit, out float y0, out float y1)
    {
        sbyte* q = x.Values + (long)row * x.K;
        float* scales = x.Scales + (long)row * x.Blocks;
        short* groupSums = x.GroupSums + (long)row * (x.K / 16);
        int nibbles = hasFifthBit ? 48 : 16;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        float mins0 = 0, mins1 = 0;
        for (int sb = 0; sb < x.Blocks; sb++, w0 += blockBytes, w1 += blockBytes, q += 256, groupSums += 16)
        {
            var sums32 = Ssse3.HorizontalAdd(Sse2.LoadVector128(groupSums), Sse2.LoadVector128(groupSums + 8));
            float dx = scales[sb];
            var sum0 = FourBitKSuperBlock(w0, w0 + nibbles, hasFifthBit, q, sums32, out int minDot0);
            var sum1 = FourBitKSuperBlock(w1, w1 + nibbles, hasFifthBit, q, sums32, out int minDot1);
            acc0 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w0) * dx), Avx.ConvertToVector256Single(sum0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w1) * dx), Avx.ConvertToVector256Single(sum1), acc1);
            mins0 += HalfFloat.ToSingle(w0 + 2) * dx * minDot0;
            mins1 += HalfFloat.ToSingle(w1 + 2) * dx * minDot1;
        }
        y0 = Vector256.Sum(acc0) - mins0;
        y1 = Vector256.Sum(acc1) - mins1;
    }

    /// <summary>
    /// One Q4_K/Q5_K super-block at <paramref name="block"/>, nibbles at <paramref name="qs"/>: Σ_j sc_j·Σ q·q_x as
    /// eight 32-bit partial sums, and in <paramref name="minDot"/> Σ_j m_j·Σ q_x (the mins against x's sums per 32).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> FourBitKSuperBlock(byte* block, byte* qs, bool hasFifthBit, sbyte* x, Vector128<short> sums32, out int minDot)
    {
        // The 12 packed bytes to 8 scale bytes then 8 min bytes (ggml's shuffle of four 32-bit words).
        const uint low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
        uint u0 = Unsafe.ReadUnaligned<uint>(block + 4), u1 = Unsafe.ReadUnaligned<uint>(block + 8);
        uint u2 = Unsafe.ReadUnaligned<uint>(block + 12);
        ulong scales = (u0 & low6) | (ulong)((u2 & low4) | (((u0 >> 6) & low2) << 4)) << 32;
        var mins = Vector128.Create(u1 & low6, ((u2 >> 4) & low4) | (((u1 >> 6) & low2) << 4), 0, 0).AsByte();

        var products = Sse2.MultiplyAddAdjacent(Sse41.ConvertToVector128Int16(mins), sums32);
        products = Sse2.Add(products, Sse2.Shuffle(products, 0b_01_00_11_10));
        minDot = Sse2.Add(products, Sse2.Shuffle(products, 0b_10_11_00_01)).ToScalar();

        var mask = Vector256.Create((byte)0x0F);
        var sum = Vector256<int>.Zero;
        var high = hasFifthBit ? Avx.LoadVector256(block + 16) : default;
        for (int p = 0; p < 4; p++, qs += 32, x += 64, scales >>= 16)
        {
            var bits = Avx.LoadVector256(qs);
            var low = bits & mask;
            var upper = Avx2.ShiftRightLogical(bits.AsUInt16(), 4).AsByte() & mask;
            if (hasFifthBit)
            {
                // Bit 2p of qh[l] is value l's fifth bit, bit 2p + 1 value 32 + l's.
                var bit0 = Vector256.Create((byte)(1 << 2 * p));
                var bit1 = Vector256.Create((byte)(2 << 2 * p));
                low |= Avx2.CompareEqual(high & bit0, bit0) & Vector256.Create((byte)16);
                upper |= Avx2.CompareEqual(high & bit1, bit1) & Vector256.Create((byte)16);
            }
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(low, Avx.LoadVector256(x)), Vector256.Create((short)(byte)scales));
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(upper, Avx.LoadVector256(x + 32)), Vector256.Create((short)(byte)(scales >> 8)));
        }
        return sum;
    }

    /// <remarks>
    /// Q6_K's values are 6-bit levels minus 32, each 16 with an int8 scale: the levels (0..63) are the unsigned operand
    /// as they are, and Σ_g sc_g·32·Σ_g q_x comes off the integer sums.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Q6_KInt8(byte* w0, byte* w1, Int8X x, int row, out float y0, out float y1)
    {
        sbyte* q = x.Values + (long)row * x.K;
        float* scales = x.Scales + (long)row * x.Blocks;
        short* groupSums = x.GroupSums + (long)row * (x.K / 16);
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = acc0;
        for (int sb = 0; sb < x.Blocks; sb++, w0 += 210, w1 += 210, q += 256, groupSums += 16)
        {
            var sums16 = Avx.LoadVector256(groupSums);
            float dx = scales[sb];
            var sum0 = Q6_KSuperBlock(w0, q, sums16);
            var sum1 = Q6_KSuperBlock(w1, q, sums16);
            acc0 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w0 + 208) * dx), Avx.ConvertToVector256Single(sum0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(HalfFloat.ToSingle(w1 + 208) * dx), Avx.ConvertToVector256Single(sum1), acc1);
        }
        y0 = Vector256.Sum(acc0);
        y1 = Vector256.Sum(acc1);
    }

    /// <summary>One Q6_K super-block's Σ_g sc_g·Σ (level − 32)·q_x, as eight 32-bit partial sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6_KSuperBlock(byte* block, sbyte* x, Vector256<short> sums16)
    {
        var groupScales = Avx2.ConvertToVector256Int16(Sse2.LoadVector128((sbyte*)(block + 192)));
        var sum = -Avx2.ShiftLeftLogical(Avx2.MultiplyAddAdjacent(sums16, groupScales), 5);
        var mask = Vector256.Create((byte)0x0F);
        sbyte* sc = (sbyte*)(block + 192);
        for (int half = 0; half < 2; half++, sc += 8, x += 128)
        {
            var low0 = Avx.LoadVector256(block + 64 * half);
            var low1 = Avx.LoadVector256(block + 64 * half + 32);
            var high = Avx.LoadVector256(block + 128 + 32 * half);
            // Value l of quarter i (of this half's 128) is the low nibble of ql[l] (i = 0), of ql[32 + l] (1), their
            // high nibbles (2, 3), with bits 2i, 2i + 1 of qh[l] as its top two.
            var q0 = (low0 & mask) | Avx2.ShiftLeftLogical((high & Vector256.Create((byte)0x03)).AsUInt16(), 4).AsByte();
            var q1 = (low1 & mask) | Avx2.ShiftLeftLogical((high & Vector256.Create((byte)0x0C)).AsUInt16(), 2).AsByte();
            var q2 = (Avx2.ShiftRightLogical(low0.AsUInt16(), 4).AsByte() & mask) | (high & Vector256.Create((byte)0x30));
            var q3 = (Avx2.ShiftRightLogical(low1.AsUInt16(), 4).AsByte() & mask)
                | Avx2.ShiftRightLogical((high & Vector256.Create((byte)0xC0)).AsUInt16(), 2).AsByte();
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q0, Avx.LoadVector256(x)), ScalePair(sc[0], sc[1]));
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q1, Avx.LoadVector256(x + 32)), ScalePair(sc[2], sc[3]));
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q2, Avx.LoadVector256(x + 64)), ScalePair(sc[4], sc[5]));
            sum += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(q3, Avx.LoadVector256(x + 96)), ScalePair(sc[6], sc[7]));
        }
        return sum;
    }

    /// <summary>
    /// 16-bit multipliers for 32 values' pair sums: the first 16 values' scale, then the next 16's (Q6_K: levels ≤ 63
    /// and |q_x| ≤ 127 keep the pair sums within 16002, |scale| ≤ 128 the 32-bit sums far from overflow).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> ScalePair(sbyte first, sbyte second) =>
        Vector256.Create(Vector128.Create((short)first), Vector128.Create((short)second));
}
