using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// Quantization writes the bytes ggml's reference quantizers write (quantize_row_*_ref through libggml-base, and for
/// Q8_0 and Q4_0 also gguf-py, which agreed): rows of different characters plus an all-zero block, a block with one
/// non-zero value, and a block of exact rounding ties.
/// </summary>
public class QuantizeTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void Row_WritesGgmlsBytes(GgmlType type)
    {
        var reference = ReferenceData.Quantized(type);
        var row = new byte[reference.RowBytes];
        for (int r = 0; r < reference.Rows; r++)
        {
            Quantize.Row(type, reference.ValueRow(r), row);
            var expected = reference.BlockRow(r);
            for (int i = 0; i < row.Length; i++)
                if (row[i] != expected[i])
                    Assert.Fail($"{GgmlTypes.Name(type)} row {r}: byte {i} (block {i / GgmlTypes.BlockBytes(type)}) is 0x{row[i]:X2}, expected 0x{expected[i]:X2}.");
        }
    }

    /// <summary>A sanity check beside the exact bytes: uniform values come back within about a quantization step (RMS).</summary>
    [Theory]
    [InlineData(GgmlType.Q8_0, 0.005)]
    [InlineData(GgmlType.Q4_0, 0.08)]
    [InlineData(GgmlType.Q4_K, 0.06)]
    [InlineData(GgmlType.Q5_K, 0.03)]
    [InlineData(GgmlType.Q6_K, 0.015)]
    public void RoundTrip_ComesBackWithinAboutAStep(GgmlType type, double relativeRms)
    {
        int columns = 4096;
        var values = Cpu.TestData.Random(columns, 7);
        var blocks = new byte[GgmlTypes.RowBytes(type, columns)];
        var back = new float[columns];
        Quantize.Row(type, values, blocks);
        Dequantize.Row(type, blocks, back);
        double error = Math.Sqrt(values.Zip(back, (v, b) => (double)(v - b) * (v - b)).Average());
        double size = Math.Sqrt(values.Average(v => (double)v * v));
        Assert.True(error <= relativeRms * size, $"{GgmlTypes.Name(type)}: RMS error {error / size:G3} of the RMS value.");
    }

    [Fact]
    public void Row_RefusesTypesItCannotWrite_AndShortDestinations()
    {
        Assert.Throws<NotSupportedException>(() => Quantize.Row(GgmlType.Q2_K, new float[256], new byte[84]));
        Assert.Throws<ArgumentException>(() => Quantize.Row(GgmlType.Q8_0, new float[64], new byte[34]));
        Assert.Throws<ArgumentException>(() => Quantize.Row(GgmlType.Q8_0, new float[40], new byte[68]));
    }
}
