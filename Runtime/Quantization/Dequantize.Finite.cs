using System.Buffers.Binary;

namespace Tessera.Quantization;

public static partial class Dequantize
{
    /// <summary>
    /// Whether a row of <paramref name="columns"/> values stored as <paramref name="type"/> dequantizes to finite
    /// numbers only, read from the fields that can make it otherwise: every value of F32, F16 and BF16; the float
    /// scales of block types (d, and dmin or m where the type has one), since every other field is a small integer and
    /// a finite F16 scale times it stays far inside F32's range (at most 65504 x 127 x 32, Q6_K's). A load checks a whole
    /// model so in the time it takes to read its scales, not to dequantize it (a 1.2B-weight Q4_K_M file: about 4 s here).
    /// A type without F16 scales known here (Q8_K's is an F32, which a finite value can overflow) is dequantized and checked.
    /// </summary>
    public static bool IsFinite(GgmlType type, ReadOnlySpan<byte> blocks, int columns)
    {
        switch (type)
        {
            case GgmlType.F32:
                return NonFinite.IndexOf(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(blocks[..(columns * sizeof(float))])) < 0;
            case GgmlType.F16:
                return AllFinite(blocks[..(columns * 2)], 2, EveryValue, HalfExponent);
            case GgmlType.BF16:
                return AllFinite(blocks[..(columns * 2)], 2, EveryValue, Bf16Exponent);
        }
        if (HalfScales(type) is { } scales)
            return AllFinite(blocks[..(int)GgmlTypes.RowBytes(type, columns)], GgmlTypes.BlockBytes(type), scales, HalfExponent);
        var values = new float[columns];
        Row(type, blocks, values);
        return NonFinite.IndexOf(values) < 0;
    }

    private const ushort HalfExponent = 0x7C00, Bf16Exponent = 0x7F80;

    /// <summary>
    /// Where a block keeps its F16 scales, as the dequantizers read them (Dequantize.Blocks32.cs, Dequantize.KQuants.cs:
    /// ggml's block structs); null for a type with none known here.
    /// </summary>
    private static int[]? HalfScales(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => DFirst,
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q8_1 or GgmlType.Q4_K or GgmlType.Q5_K => DThenMin,
        GgmlType.Q2_K => Q2_KScales,
        GgmlType.Q3_K => Q3_KScale,
        GgmlType.Q6_K => Q6_KScale,
        _ => null,
    };

    private static readonly int[] DFirst = [0];                  // d first
    private static readonly int[] DThenMin = [0, 2];             // d, then m or dmin
    private static readonly int[] Q2_KScales = [80, 82];         // after scales[16], qs[64]: d, dmin
    private static readonly int[] Q3_KScale = [108];             // after hmask[32], qs[64], scales[12]: d
    private static readonly int[] Q6_KScale = [208];             // after ql[128], qh[64], scales[16]: d
    private static readonly int[] EveryValue = [0];

    /// <summary>Whether none of the 16-bit floats at <paramref name="offsets"/> of each <paramref name="stride"/>-byte block has its exponent all ones (an infinity or a NaN).</summary>
    private static bool AllFinite(ReadOnlySpan<byte> bytes, int stride, int[] offsets, ushort exponent)
    {
        for (int block = 0; block + stride <= bytes.Length; block += stride)
            foreach (int offset in offsets)
                if ((BinaryPrimitives.ReadUInt16LittleEndian(bytes[(block + offset)..]) & exponent) == exponent) return false;
        return true;
    }
}
