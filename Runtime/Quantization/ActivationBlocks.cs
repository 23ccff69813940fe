using System.Runtime.CompilerServices;

namespace Tessera.Quantization;

/// <summary>
/// The activations as llama.cpp's CPU back end multiplies them with block-quantized weights: before each such product
/// it rounds x to the weight type's "vec_dot_type" — Q8_0 (8 bits in blocks of 32, an F16 scale) for the 32-value
/// types, Q8_K (blocks of 256, an F32 scale) for the K types, F16 for F16 weights — and the product is exact on those.
/// Tessera rounds x the same way, bit for bit (the AVX2 quantize_row_q8_0 of ggml-cpu/arch/x86/quants.c and
/// quantize_row_q8_K_ref of ggml-quants.c), in both its prompt and its decode products, so a GGUF file gives
/// llama.cpp's logits and every path and plan gives the same ones.
/// </summary>
public static class ActivationBlocks
{
    /// <summary>
    /// The activation blocks llama.cpp pairs with <paramref name="weights"/>, or null for weights multiplied in F32.
    /// Q4_1 and Q5_1 pair with Q8_1 in ggml: the same integers and scale as Q8_0, plus the block's sum rounded to F16
    /// for the weights' min term, which Tessera takes unrounded (a difference of ~1e-3 of that term).
    /// </summary>
    public static GgmlType? For(GgmlType weights) => weights switch
    {
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 => GgmlType.Q8_0,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        GgmlType.F16 => GgmlType.F16,
        _ => null,
    };

    /// <summary>
    /// One row of x as the 8-bit blocks of <paramref name="blocks"/> (Q8_0 or Q8_K): <paramref name="values"/> the
    /// integers, <paramref name="scales"/> each 32 values' scale (a Q8_K block's one scale repeated over its 8 groups
    /// of 32), so that value i is scales[i / 32] · values[i].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Quantize(GgmlType blocks, ReadOnlySpan<float> x, Span<sbyte> values, Span<float> scales)
    {
        int size = blocks == GgmlType.Q8_K ? 256 : 32;
        if (x.Length % size != 0) throw new ArgumentException($"{x.Length} values are not whole {GgmlTypes.Name(blocks)} blocks of {size}.", nameof(x));
        for (int b = 0; b < x.Length; b += size)
        {
            var block = x.Slice(b, size);
            var q = values.Slice(b, size);
            float scale = blocks == GgmlType.Q8_K ? Q8_K(block, q) : Q8_0(block, q);
            for (int g = 0; g < size / 32; g++) scales[b / 32 + g] = scale;
        }
    }

    /// <summary>x replaced by what the blocks hold (scale · integer, or the F16 value): the values llama.cpp's product sees.</summary>
    public static void RoundTrip(GgmlType blocks, ReadOnlySpan<float> x, Span<float> into)
    {
        if (blocks == GgmlType.F16)
        {
            for (int i = 0; i < x.Length; i++) into[i] = (float)(Half)x[i];
            return;
        }
        Span<sbyte> q = x.Length <= 8192 ? stackalloc sbyte[x.Length] : new sbyte[x.Length];
        Span<float> scales = x.Length <= 8192 ? stackalloc float[x.Length / 32] : new float[x.Length / 32];
        Quantize(blocks, x, q, scales);
        for (int i = 0; i < x.Length; i++) into[i] = scales[i / 32] * q[i];
    }

    /// <summary>
    /// ggml's AVX2 Q8_0: d = max|x| / 127 stored as F16, q = x · (127 / max|x|) rounded to nearest even. Returns the
    /// stored scale, F16-rounded, which is what the product multiplies by.
    /// </summary>
    private static float Q8_0(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        float amax = 0;
        foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
        float d = amax / 127f, id = amax != 0 ? 127f / amax : 0f;
        for (int i = 0; i < x.Length; i++) q[i] = (sbyte)(int)MathF.Round(x[i] * id, MidpointRounding.ToEven);
        return (float)(Half)d;
    }

    /// <summary>
    /// ggml's Q8_K: the value of largest magnitude sets iscale = -127 / max, q = nearest(iscale · x) capped at 127,
    /// d = 1 / iscale (F32).
    /// </summary>
    private static float Q8_K(ReadOnlySpan<float> x, Span<sbyte> q)
    {
        float max = 0, amax = 0;
        foreach (float v in x)
        {
            float a = MathF.Abs(v);
            if (a > amax)
            {
                amax = a;
                max = v;
            }
        }
        if (amax == 0)
        {
            q.Clear();
            return 0;
        }
        float iscale = -127f / max;
        for (int i = 0; i < x.Length; i++) q[i] = (sbyte)Math.Min(127, NearestInt(iscale * x[i]));
        return 1 / iscale;
    }

    /// <summary>ggml's nearest_int: round to nearest even through the float adder (1.5 · 2^23 added).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int NearestInt(float value)
    {
        float shifted = value + 12582912f;
        return (BitConverter.SingleToInt32Bits(shifted) & 0x007fffff) - 0x00400000;
    }
}
