namespace Tessera.Quantization;

// ggml's reference K quantizers (quantize_row_q4_K_ref, _q5_K_ref, _q6_K_ref) without an importance matrix. Each
// line follows ggml's arithmetic in the same order, in float, so the bytes match ggml's.
public static partial class Quantize
{
    /// <summary>Below this largest magnitude a group counts as all zero (ggml's GROUP_MAX_EPS).</summary>
    private const float GroupMaxEps = 1e-15f;

    private const int Super = GgmlTypes.SuperBlock;

    /// <summary>
    /// Round to nearest, ties to even, for |value| ≤ 4194303, as ggml's nearest_int does it: adding 1.5·2^23 leaves
    /// the rounded integer in the low mantissa bits.
    /// </summary>
    private static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007fffff) - 0x00400000;
    }

    private static float ReadHalf(ReadOnlySpan<byte> bytes) => (float)BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(bytes));

    /// <summary>Eight 32-value sub-blocks, each with a 6-bit scale and min, nibbles packed 32 bytes per 64 values.</summary>
    private static void Q4_K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[Super];
        QuantizeScalesAndMins(x, block, levels, maxLevel: 15, rmin: -1f, rdelta: 0.1f, steps: 20);
        var qs = block.Slice(16, 128);
        for (int j = 0, q = 0; j < Super; j += 64, q += 32)
            for (int l = 0; l < 32; l++) qs[q + l] = (byte)(levels[j + l] | levels[j + l + 32] << 4);
    }

    /// <summary>As Q4_K with 5-bit levels: the fifth bits go to qh (bit 2p for value 64p + l, bit 2p + 1 for 64p + 32 + l).</summary>
    private static void Q5_K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<byte> levels = stackalloc byte[Super];
        QuantizeScalesAndMins(x, block, levels, maxLevel: 31, rmin: -0.5f, rdelta: 0.1f, steps: 15);
        var qh = block.Slice(16, 32);
        var ql = block.Slice(48, 128);
        qh.Clear();
        int m1 = 1, m2 = 2;
        for (int n = 0, q = 0; n < Super; n += 64, q += 32, m1 <<= 2, m2 <<= 2)
        {
            for (int j = 0; j < 32; j++)
            {
                int l1 = levels[n + j];
                if (l1 > 15)
                {
                    l1 -= 16;
                    qh[j] |= (byte)m1;
                }
                int l2 = levels[n + j + 32];
                if (l2 > 15)
                {
                    l2 -= 16;
                    qh[j] |= (byte)m2;
                }
                ql[q + j] = (byte)(l1 | l2 << 4);
            }
        }
    }

    /// <summary>
    /// The part Q4_K and Q5_K share: the best (scale, min) per 32 values, those quantized to 6 bits against the
    /// super-block's d and dmin (written to <paramref name="block"/>'s first 16 bytes), then each value's level
    /// against its sub-block's quantized scale and min.
    /// </summary>
    private static void QuantizeScalesAndMins(ReadOnlySpan<float> x, Span<byte> block, Span<byte> levels, int maxLevel, float rmin, float rdelta, int steps)
    {
        Span<float> scales = stackalloc float[8], mins = stackalloc float[8], weights = stackalloc float[32];
        Span<byte> trial = stackalloc byte[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            var group = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += group[l] * group[l];
            float averageX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = averageX + Math.Abs(group[l]);
            scales[j] = ScaleAndMin(group, maxLevel, weights, levels.Slice(32 * j, 32), out mins[j], trial, rmin, rdelta, steps);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        float inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
        float inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
        var packed = block.Slice(4, 12);
        packed.Clear();
        for (int j = 0; j < 8; j++)
        {
            byte ls = Math.Min((byte)63, (byte)NearestInt(inverseScale * scales[j]));
            byte lm = Math.Min((byte)63, (byte)NearestInt(inverseMin * mins[j]));
            if (j < 4)
            {
                packed[j] = ls;
                packed[j + 4] = lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | (lm & 0xF) << 4);
                packed[j - 4] |= (byte)(ls >> 4 << 6);
                packed[j] |= (byte)(lm >> 4 << 6);
            }
        }
        WriteHalf(block, maxScale / 63f);
        WriteHalf(block.Slice(2), maxMin / 63f);

        float d = ReadHalf(block), dmin = ReadHalf(block.Slice(2));
        unsafe
        {
            fixed (byte* scaleBytes = packed)
            {
                for (int j = 0; j < 8; j++)
                {
                    Dequantize.ScaleMinK4(j, scaleBytes, out int sc, out int m);
                    float dj = d * sc;
                    if (dj == 0) continue;
                    float dm = dmin * m;
                    for (int i = 0; i < 32; i++)
                        levels[32 * j + i] = (byte)Math.Clamp(NearestInt((x[32 * j + i] + dm) / dj), 0, maxLevel);
                }
            }
        }
    }

    /// <summary>
    /// ggml's make_qkx2_quants: levels 0..<paramref name="maxLevel"/> for <paramref name="x"/> ≈ scale·level − min,
    /// trying <paramref name="steps"/> + 1 scales around the min–max one and keeping the least weighted squared error.
    /// Returns the scale; <paramref name="theMin"/> is −min (≥ 0).
    /// </summary>
    private static float ScaleAndMin(ReadOnlySpan<float> x, int maxLevel, ReadOnlySpan<float> weights, Span<byte> levels, out float theMin,
        Span<byte> trial, float rmin, float rdelta, int steps)
    {
        int n = x.Length;
        float min = x[0], max = x[0];
        float sumW = weights[0];
        float sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            levels.Clear();
            theMin = -min;
            return 0f;
        }
        float iscale = maxLevel / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            levels[i] = (byte)Math.Max(0, Math.Min(maxLevel, l));
            float diff = scale * levels[i] + min - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + maxLevel) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(maxLevel, NearestInt(iscale * (x[i] - min))));
                trial[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float determinant = sumW * sumL2 - sumL * sumL;
            if (determinant > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / determinant;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / determinant;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float error = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * trial[i] + thisMin - x[i];
                    error += weights[i] * (diff * diff);
                }
                if (error < bestError)
                {
                    trial.Slice(0, n).CopyTo(levels);
                    bestError = error;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }

    /// <summary>Sixteen 16-value groups with int8 scales against one F16 d; 6-bit levels offset by 32.</summary>
    private static void Q6_K(ReadOnlySpan<float> x, Span<byte> block)
    {
        Span<sbyte> levels = stackalloc sbyte[Super];
        Span<float> scales = stackalloc float[16];
        float maxScale = 0, maxAbsScale = 0;
        for (int g = 0; g < 16; g++)
        {
            float scale = SymmetricScale(x.Slice(16 * g, 16), 32, levels.Slice(16 * g, 16));
            scales[g] = scale;
            float absScale = Math.Abs(scale);
            if (absScale > maxAbsScale)
            {
                maxAbsScale = absScale;
                maxScale = scale;
            }
        }
        block.Slice(0, 210).Clear();
        if (maxAbsScale < GroupMaxEps) return;

        float iscale = -128f / maxScale;
        WriteHalf(block.Slice(208), 1 / iscale);
        var groupScales = block.Slice(192, 16);
        for (int g = 0; g < 16; g++) groupScales[g] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[g]));

        float d = ReadHalf(block.Slice(208));
        for (int g = 0; g < 16; g++)
        {
            float dg = d * (sbyte)groupScales[g];
            if (dg == 0) continue;
            for (int i = 0; i < 16; i++)
                levels[16 * g + i] = (sbyte)(Math.Max(-32, Math.Min(31, NearestInt(x[16 * g + i] / dg))) + 32);
        }

        var ql = block.Slice(0, 128);
        var qh = block.Slice(128, 64);
        for (int j = 0, lo = 0, hi = 0; j < Super; j += 128, lo += 64, hi += 32)
        {
            for (int l = 0; l < 32; l++)
            {
                int q1 = levels[j + l] & 0xF, q2 = levels[j + l + 32] & 0xF, q3 = levels[j + l + 64] & 0xF, q4 = levels[j + l + 96] & 0xF;
                ql[lo + l] = (byte)(q1 | q3 << 4);
                ql[lo + l + 32] = (byte)(q2 | q4 << 4);
                qh[hi + l] = (byte)((levels[j + l] >> 4) | (levels[j + l + 32] >> 4) << 2 | (levels[j + l + 64] >> 4) << 4 | (levels[j + l + 96] >> 4) << 6);
            }
        }
    }

    /// <summary>
    /// ggml's make_qx_quants with rmse_type 1 and no importance weights: levels −nmax..nmax−1 (stored + nmax) for
    /// x ≈ scale·level, weighting each value by x², trying 18 scales around max/nmax and keeping the best.
    /// </summary>
    private static float SymmetricScale(ReadOnlySpan<float> x, int nmax, Span<sbyte> levels)
    {
        int n = x.Length;
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++)
        {
            float ax = Math.Abs(x[i]);
            if (ax > amax)
            {
                amax = ax;
                max = x[i];
            }
        }
        if (amax < GroupMaxEps)
        {
            levels.Clear();
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++)
        {
            int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
            levels[i] = (sbyte)(l + nmax);
            float w = x[i] * x[i];
            sumLX += w * x[i] * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0.0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++)
        {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = sumL2 = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i])));
                float w = x[i] * x[i];
                sumLX += w * x[i] * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2)
            {
                for (int i = 0; i < n; i++)
                    levels[i] = (sbyte)(nmax + Math.Max(-nmax, Math.Min(nmax - 1, NearestInt(iscale * x[i]))));
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }
}
