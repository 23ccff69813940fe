using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// Dequantization gives exactly the floats llama.cpp's gguf-py gives (which make_reference.py checked against ggml's
/// own dequantize_row_* too), bit for bit: every value is one float product (and difference) in ggml's order.
/// </summary>
public class DequantizeTests
{
    public static TheoryData<GgmlType> ReferenceTypes() => new(
        GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K);

    [Theory]
    [MemberData(nameof(ReferenceTypes))]
    public void Row_EqualsGgufPy_BitForBit(GgmlType type)
    {
        var reference = ReferenceData.Dequantized(type);
        var row = new float[reference.Columns];
        for (int r = 0; r < reference.Rows; r++)
        {
            Dequantize.Row(type, reference.BlockRow(r), row);
            AssertSameBits(reference.ValueRow(r), row, $"{GgmlTypes.Name(type)} row {r}");
        }
    }

    /// <summary>The hot types' Vector256 and scalar paths, each against the reference (the public entry takes only one of them here).</summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void VectorAndScalarPaths_BothEqualTheReference(GgmlType type)
    {
        var reference = ReferenceData.Dequantized(type);
        var row = new float[reference.Columns];
        foreach (bool vectorize in new[] { false, true })
        {
            for (int r = 0; r < reference.Rows; r++)
            {
                Array.Clear(row);
                Dequantize.Row(type, reference.BlockRow(r), row, vectorize);
                AssertSameBits(reference.ValueRow(r), row, $"{GgmlTypes.Name(type)} {(vectorize ? "vector" : "scalar")} row {r}");
            }
        }
    }

    [Fact]
    public void F32_IsCopied()
    {
        float[] values = [1.5f, -0f, float.NaN, float.Epsilon];
        var row = new float[4];
        Dequantize.Row(GgmlType.F32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()), row);
        AssertSameBits(values, row, "F32");
    }

    [Fact]
    public void HalfToSingle_EqualsTheRuntimesConversion_ForEveryBitPattern()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            float converted = HalfFloat.Convert((ushort)bits), actual = HalfFloat.ToSingle((ushort)bits);
            Assert.True(BitConverter.SingleToUInt32Bits(converted) == BitConverter.SingleToUInt32Bits(actual), $"half 0x{bits:X4}: the table differs from the conversion.");
            Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                $"half 0x{bits:X4}: {actual:R} (0x{BitConverter.SingleToUInt32Bits(actual):X8}), expected {expected:R} (0x{BitConverter.SingleToUInt32Bits(expected):X8})");
        }
    }

    [Fact]
    public void Row_RefusesShortBlocks_PartialBlocks_AndTypesItCannotRead()
    {
        Assert.Throws<ArgumentException>(() => Dequantize.Row(GgmlType.Q4_0, new byte[18], new float[64]));
        Assert.Throws<ArgumentException>(() => Dequantize.Row(GgmlType.Q4_0, new byte[36], new float[48]));
        Assert.Contains("IQ2_XXS", Assert.Throws<NotSupportedException>(() => Dequantize.Row(GgmlType.IQ2_XXS, new byte[66], new float[256])).Message);
        Assert.Contains("type 99", Assert.Throws<NotSupportedException>(() => Dequantize.Row((GgmlType)99, new byte[66], new float[256])).Message);
    }

    /// <summary>Same bits, except that any NaN matches any NaN (numpy and .NET may quiet a NaN differently).</summary>
    internal static void AssertSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool same = BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i])
                || (float.IsNaN(expected[i]) && float.IsNaN(actual[i]));
            if (!same) Assert.Fail($"{what}: value {i} is {actual[i]:R}, expected {expected[i]:R}.");
        }
    }
}
