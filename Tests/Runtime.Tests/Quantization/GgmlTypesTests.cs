using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

public class GgmlTypesTests
{
    [Theory]
    [InlineData(GgmlType.F32, 0u, 1, 4)]
    [InlineData(GgmlType.F16, 1u, 1, 2)]
    [InlineData(GgmlType.Q4_0, 2u, 32, 18)]
    [InlineData(GgmlType.Q4_1, 3u, 32, 20)]
    [InlineData(GgmlType.Q5_0, 6u, 32, 22)]
    [InlineData(GgmlType.Q5_1, 7u, 32, 24)]
    [InlineData(GgmlType.Q8_0, 8u, 32, 34)]
    [InlineData(GgmlType.Q8_1, 9u, 32, 36)]
    [InlineData(GgmlType.Q2_K, 10u, 256, 84)]
    [InlineData(GgmlType.Q3_K, 11u, 256, 110)]
    [InlineData(GgmlType.Q4_K, 12u, 256, 144)]
    [InlineData(GgmlType.Q5_K, 13u, 256, 176)]
    [InlineData(GgmlType.Q6_K, 14u, 256, 210)]
    [InlineData(GgmlType.Q8_K, 15u, 256, 292)]
    [InlineData(GgmlType.IQ4_XS, 23u, 256, 136)]
    [InlineData(GgmlType.BF16, 30u, 1, 2)]
    [InlineData(GgmlType.MXFP4, 39u, 32, 17)]
    public void Types_HaveGgmlsIdsAndBlockSizes(GgmlType type, uint id, int elements, int bytes)
    {
        Assert.Equal(id, (uint)type);
        Assert.Equal(elements, GgmlTypes.BlockElements(type));
        Assert.Equal(bytes, GgmlTypes.BlockBytes(type));
        Assert.True(GgmlTypes.IsKnown(type));
    }

    [Fact]
    public void RowBytes_CountsWholeBlocks()
    {
        Assert.Equal(4096 / 32 * 18, GgmlTypes.RowBytes(GgmlType.Q4_0, 4096));
        Assert.Equal(4096 / 256 * 210, GgmlTypes.RowBytes(GgmlType.Q6_K, 4096));
        Assert.Equal(7 * 4, GgmlTypes.RowBytes(GgmlType.F32, 7));
        Assert.Equal(0, GgmlTypes.RowBytes(GgmlType.Q8_0, 0));
    }

    [Theory]
    [InlineData(GgmlType.Q4_0, 48)]
    [InlineData(GgmlType.Q4_K, 4000)]
    [InlineData(GgmlType.Q8_0, -32)]
    public void RowBytes_RefusesAWidthThatIsNotWholeBlocks(GgmlType type, long columns)
    {
        var error = Assert.Throws<ArgumentException>(() => GgmlTypes.RowBytes(type, columns));
        Assert.Contains(GgmlTypes.Name(type), error.Message);
        Assert.Contains(columns.ToString(), error.Message);
    }

    [Fact]
    public void UnknownIds_AreNamedByNumber_AndHaveNoLayout()
    {
        var retired = (GgmlType)4;
        var unknown = (GgmlType)99;
        Assert.Equal("type 4", GgmlTypes.Name(retired));
        Assert.Equal("type 99", GgmlTypes.Name(unknown));
        Assert.False(GgmlTypes.IsKnown(unknown));
        Assert.False(GgmlTypes.CanDequantize(unknown));
        Assert.Contains("type 99", Assert.Throws<NotSupportedException>(() => GgmlTypes.BlockElements(unknown)).Message);
        Assert.Throws<NotSupportedException>(() => GgmlTypes.RowBytes(unknown, 32));
    }

    [Theory]
    [InlineData("q8_0", GgmlType.Q8_0)]
    [InlineData("Q4_K", GgmlType.Q4_K)]
    [InlineData("q4_k", GgmlType.Q4_K)]
    [InlineData("bf16", GgmlType.BF16)]
    [InlineData("F32", GgmlType.F32)]
    [InlineData("iq2_xxs", GgmlType.IQ2_XXS)]
    public void TryParse_ReadsNamesInAnyCase(string name, GgmlType expected)
    {
        Assert.True(GgmlTypes.TryParse(name, out var type));
        Assert.Equal(expected, type);
        Assert.Equal(expected, GgmlTypes.TryParse(GgmlTypes.Name(expected), out var back) ? back : default);
    }

    [Theory]
    [InlineData("")]
    [InlineData("q4")]
    [InlineData("Q4_0_4_4")]
    [InlineData("8")]
    [InlineData("type 99")]
    [InlineData("Q4_0,Q8_0")]
    public void TryParse_RefusesWhatIsNotATypeName(string name) => Assert.False(GgmlTypes.TryParse(name, out _));

    [Fact]
    public void CanDequantize_TheTypesTesseraReads()
    {
        GgmlType[] readable = [GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
            GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K];
        foreach (var type in Enum.GetValues<GgmlType>())
            Assert.Equal(readable.Contains(type), GgmlTypes.CanDequantize(type));
    }
}
