using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Quantization;

// The K types: super-blocks of 256 values in sub-blocks of 16 or 32, each sub-block with its own small integer scale
// (and, for Q2_K, Q4_K, Q5_K, its own min) times the super-block's F16 d (and dmin). Struct layouts: ggml-common.h.
public static unsafe partial class Dequantize
{
    private const int Super = GgmlTypes.SuperBlock;

    /// <summary>Q4_K/Q5_K sub-block <paramref name="j"/>'s 6-bit scale and min from the 12 packed bytes (ggml's get_scale_min_k4).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleMinK4(int j, byte* q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = q[j] & 63;
            min = q[j + 4] & 63;
        }
        else
        {
            scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
            min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }

    // block_q2_K: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin.
    private static void Q2_K(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 84)
        {
            byte* scales = source, q = source + 16;
            float d = HalfFloat.ToSingle(source + 80), min = HalfFloat.ToSingle(source + 82);
            int scaleIndex = 0;
            for (int n = 0; n < Super; n += 128, q += 32)
            {
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 32; half += 16)
                    {
                        byte sc = scales[scaleIndex++];
                        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) *destination++ = dl * ((q[l + half] >> shift) & 3) - ml;
                    }
                }
            }
        }
    }

    // block_q3_K: hmask[32] (high bit, set means no −4), qs[64] (low 2 bits), scales[12] (6-bit, offset 32), d.
    private static void Q3_K(byte* source, float* destination, int count)
    {
        var scales = stackalloc sbyte[16];
        for (int i = 0; i < count; i++, source += 110)
        {
            byte* hm = source, q = source + 32;
            float all = HalfFloat.ToSingle(source + 108);
            UnpackQ3Scales(source + 96, scales);
            int scaleIndex = 0;
            byte m = 1;
            for (int n = 0; n < Super; n += 128, q += 32)
            {
                for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                {
                    for (int half = 0; half < 32; half += 16)
                    {
                        float dl = all * (scales[scaleIndex++] - 32);
                        for (int l = 0; l < 16; l++)
                            *destination++ = dl * (((q[l + half] >> shift) & 3) - ((hm[l + half] & m) != 0 ? 0 : 4));
                    }
                }
            }
        }
    }

    /// <summary>Q3_K's sixteen 6-bit scales: low 4 bits in bytes 0–7 (two each), high 2 bits in bytes 8–11 (four each).</summary>
    private static void UnpackQ3Scales(byte* packed, sbyte* scales)
    {
        const uint low4 = 0x0f0f0f0f, low2 = 0x03030303;
        uint a0 = Unsafe.ReadUnaligned<uint>(packed), a1 = Unsafe.ReadUnaligned<uint>(packed + 4), high = Unsafe.ReadUnaligned<uint>(packed + 8);
        var aux = (uint*)scales;
        aux[0] = (a0 & low4) | (((high >> 0) & low2) << 4);
        aux[1] = (a1 & low4) | (((high >> 2) & low2) << 4);
        aux[2] = ((a0 >> 4) & low4) | (((high >> 4) & low2) << 4);
        aux[3] = ((a1 >> 4) & low4) | (((high >> 6) & low2) << 4);
    }

    // block_q4_K: d, dmin, scales[12] (8 × 6-bit scale and min), qs[128]: 32 bytes per 64 values, low nibbles first.
    private static void Q4_KScalar(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 144)
        {
            float d = HalfFloat.ToSingle(source), min = HalfFloat.ToSingle(source + 2);
            byte* scales = source + 4, q = source + 16;
            for (int j = 0; j < 8; j += 2, q += 32)
            {
                ScaleMinK4(j, scales, out int sc, out int m);
                float d1 = d * sc, m1 = min * m;
                ScaleMinK4(j + 1, scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *destination++ = d1 * (q[l] & 0xF) - m1;
                for (int l = 0; l < 32; l++) *destination++ = d2 * (q[l] >> 4) - m2;
            }
        }
    }

    private static void Q4_KVector(byte* source, float* destination, int count)
    {
        var low = Vector256.Create(0x0F);
        for (int i = 0; i < count; i++, source += 144)
        {
            float d = HalfFloat.ToSingle(source), min = HalfFloat.ToSingle(source + 2);
            byte* scales = source + 4, q = source + 16;
            for (int j = 0; j < 8; j += 2, q += 32, destination += 64)
            {
                ScaleMinK4(j, scales, out int sc, out int m);
                var d1 = Vector256.Create(d * sc);
                var m1 = Vector256.Create(min * m);
                ScaleMinK4(j + 1, scales, out sc, out m);
                var d2 = Vector256.Create(d * sc);
                var m2 = Vector256.Create(min * m);
                for (int l = 0; l < 32; l += 8)
                {
                    var bytes = Avx2.ConvertToVector256Int32(q + l);
                    Avx.Store(destination + l, Avx.Subtract(Avx.Multiply(d1, Avx.ConvertToVector256Single(bytes & low)), m1));
                    Avx.Store(destination + 32 + l, Avx.Subtract(Avx.Multiply(d2, Avx.ConvertToVector256Single(Avx2.ShiftRightLogical(bytes, 4))), m2));
                }
            }
        }
    }

    // block_q5_K: Q4_K's fields plus qh[32] before qs: bit 2p of qh[l] is the fifth bit of value 64p + l, bit 2p+1 of 64p + 32 + l.
    private static void Q5_KScalar(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 176)
        {
            float d = HalfFloat.ToSingle(source), min = HalfFloat.ToSingle(source + 2);
            byte* scales = source + 4, qh = source + 16, ql = source + 48;
            int u1 = 1, u2 = 2;
            for (int j = 0; j < 8; j += 2, ql += 32, u1 <<= 2, u2 <<= 2)
            {
                ScaleMinK4(j, scales, out int sc, out int m);
                float d1 = d * sc, m1 = min * m;
                ScaleMinK4(j + 1, scales, out sc, out m);
                float d2 = d * sc, m2 = min * m;
                for (int l = 0; l < 32; l++) *destination++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++) *destination++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - m2;
            }
        }
    }

    private static void Q5_KVector(byte* source, float* destination, int count)
    {
        var low = Vector256.Create(0x0F);
        var fifth = Vector256.Create(0x10);
        for (int i = 0; i < count; i++, source += 176)
        {
            float d = HalfFloat.ToSingle(source), min = HalfFloat.ToSingle(source + 2);
            byte* scales = source + 4, qh = source + 16, ql = source + 48;
            for (int j = 0; j < 8; j += 2, ql += 32, destination += 64)
            {
                ScaleMinK4(j, scales, out int sc, out int m);
                var d1 = Vector256.Create(d * sc);
                var m1 = Vector256.Create(min * m);
                ScaleMinK4(j + 1, scales, out sc, out m);
                var d2 = Vector256.Create(d * sc);
                var m2 = Vector256.Create(min * m);
                for (int l = 0; l < 32; l += 8)
                {
                    var bytes = Avx2.ConvertToVector256Int32(ql + l);
                    // qh << 4 puts bit b at 4 + b; shifting right by j (then j + 1) brings this pair's bits to bit 4.
                    var high = Avx2.ShiftLeftLogical(Avx2.ConvertToVector256Int32(qh + l), 4);
                    var q1 = (bytes & low) | (Avx2.ShiftRightLogical(high, Vector128.CreateScalar(j)) & fifth);
                    var q2 = Avx2.ShiftRightLogical(bytes, 4) | (Avx2.ShiftRightLogical(high, Vector128.CreateScalar(j + 1)) & fifth);
                    Avx.Store(destination + l, Avx.Subtract(Avx.Multiply(d1, Avx.ConvertToVector256Single(q1)), m1));
                    Avx.Store(destination + 32 + l, Avx.Subtract(Avx.Multiply(d2, Avx.ConvertToVector256Single(q2)), m2));
                }
            }
        }
    }

    // block_q6_K: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8, one per 16 values), d; values offset by 32.
    private static void Q6_KScalar(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 210)
        {
            float d = HalfFloat.ToSingle(source + 208);
            byte* ql = source, qh = source + 128;
            sbyte* sc = (sbyte*)(source + 192);
            for (int n = 0; n < Super; n += 128, destination += 128, ql += 64, qh += 32, sc += 8)
            {
                for (int l = 0; l < 32; l++)
                {
                    int s = l / 16;
                    int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                    int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                    int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                    int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                    destination[l] = d * sc[s] * q1;
                    destination[l + 32] = d * sc[s + 2] * q2;
                    destination[l + 64] = d * sc[s + 4] * q3;
                    destination[l + 96] = d * sc[s + 6] * q4;
                }
            }
        }
    }

    private static void Q6_KVector(byte* source, float* destination, int count)
    {
        var low = Vector256.Create(0x0F);
        var two = Vector256.Create(0x30);
        var offset = Vector256.Create(32);
        for (int i = 0; i < count; i++, source += 210)
        {
            float d = HalfFloat.ToSingle(source + 208);
            byte* ql = source, qh = source + 128;
            sbyte* sc = (sbyte*)(source + 192);
            for (int n = 0; n < Super; n += 128, destination += 128, ql += 64, qh += 32, sc += 8)
            {
                for (int l = 0; l < 32; l += 8)
                {
                    int s = l / 16;
                    var a = Avx2.ConvertToVector256Int32(ql + l);
                    var b = Avx2.ConvertToVector256Int32(ql + 32 + l);
                    var h = Avx2.ConvertToVector256Int32(qh + l);
                    var q1 = ((a & low) | (Avx2.ShiftLeftLogical(h, 4) & two)) - offset;
                    var q2 = ((b & low) | (Avx2.ShiftLeftLogical(h, 2) & two)) - offset;
                    var q3 = (Avx2.ShiftRightLogical(a, 4) | (h & two)) - offset;
                    var q4 = (Avx2.ShiftRightLogical(b, 4) | (Avx2.ShiftRightLogical(h, 2) & two)) - offset;
                    Avx.Store(destination + l, Avx.Multiply(Vector256.Create(d * sc[s]), Avx.ConvertToVector256Single(q1)));
                    Avx.Store(destination + 32 + l, Avx.Multiply(Vector256.Create(d * sc[s + 2]), Avx.ConvertToVector256Single(q2)));
                    Avx.Store(destination + 64 + l, Avx.Multiply(Vector256.Create(d * sc[s + 4]), Avx.ConvertToVector256Single(q3)));
                    Avx.Store(destination + 96 + l, Avx.Multiply(Vector256.Create(d * sc[s + 6]), Avx.ConvertToVector256Single(q4)));
                }
            }
        }
    }

    // block_q8_K: float d, qs[256] (int8), bsums[16] (unused here).
    private static void Q8_K(byte* source, float* destination, int count)
    {
        for (int i = 0; i < count; i++, source += 292)
        {
            float d = Unsafe.ReadUnaligned<float>(source);
            sbyte* qs = (sbyte*)(source + 4);
            for (int j = 0; j < Super; j++) *destination++ = d * qs[j];
        }
    }
}
