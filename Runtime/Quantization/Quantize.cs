namespace Tessera.Quantization;

/// <summary>
/// F32 to ggml's block formats, byte for byte what ggml's reference quantizers (<c>quantize_row_*_ref</c> in
/// ggml/src/ggml-quants.c) write, rounding included; the K types without an importance matrix, as
/// <c>llama-quantize</c> does when given none.
/// </summary>
public static partial class Quantize
{
    /// <summary>
    /// <c>source.Length</c> values (whole blocks) as <paramref name="type"/> blocks into
    /// <paramref name="destination"/>, which holds at least <see cref="GgmlTypes.RowBytes"/> bytes.
    /// </summary>
    public static void Row(GgmlType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        if (!CanQuantize(type))
            throw new NotSupportedException($"Tessera cannot quantize to {GgmlTypes.Name(type)}.");
        long bytes = GgmlTypes.RowBytes(type, source.Length);
        if (destination.Length < bytes)
            throw new ArgumentException($"{source.Length} {GgmlTypes.Name(type)} values take {bytes} bytes, but the destination has {destination.Length}.", nameof(destination));
        int blocks = source.Length / GgmlTypes.BlockElements(type), blockBytes = GgmlTypes.BlockBytes(type);
        int values = GgmlTypes.BlockElements(type);
        for (int b = 0; b < blocks; b++)
        {
            var x = source.Slice(b * values, values);
            var block = destination.Slice(b * blockBytes, blockBytes);
            switch (type)
            {
                case GgmlType.Q8_0: Q8_0(x, block); break;
                case GgmlType.Q4_0: Q4_0(x, block); break;
                case GgmlType.Q4_K: Q4_K(x, block); break;
                case GgmlType.Q5_K: Q5_K(x, block); break;
                case GgmlType.Q6_K: Q6_K(x, block); break;
            }
        }
    }

    /// <summary>Whether <see cref="Row"/> writes <paramref name="type"/>.</summary>
    public static bool CanQuantize(GgmlType type) =>
        type is GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>d = max|x| / 127, q = round(x / d) (halves away from zero).</summary>
    private static void Q8_0(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0;
        foreach (float v in x) amax = Math.Max(amax, Math.Abs(v));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        WriteHalf(block, d);
        for (int j = 0; j < 32; j++) block[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
    }

    /// <summary>
    /// d = −m / 8 for the value m of largest magnitude (the first such), so m itself is q = 0; q = min(15, trunc(x/d + 8.5)).
    /// </summary>
    private static void Q4_0(ReadOnlySpan<float> x, Span<byte> block)
    {
        float amax = 0, max = 0;
        foreach (float v in x)
        {
            if (amax < Math.Abs(v))
            {
                amax = Math.Abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        WriteHalf(block, d);
        for (int j = 0; j < 16; j++)
        {
            int low = Math.Min(15, (int)(sbyte)(x[j] * id + 8.5f));
            int high = Math.Min(15, (int)(sbyte)(x[j + 16] * id + 8.5f));
            block[2 + j] = (byte)(low | high << 4);
        }
    }

    /// <summary>ggml's GGML_FP32_TO_FP16: round to nearest, ties to even.</summary>
    private static void WriteHalf(Span<byte> destination, float value) =>
        BitConverter.TryWriteBytes(destination, BitConverter.HalfToUInt16Bits((Half)value));
}
