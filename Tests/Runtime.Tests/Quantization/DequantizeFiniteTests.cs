using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// Whether a stored row holds a value that is not finite is known from its scales alone (<see cref="Dequantize.IsFinite"/>),
/// and that answer is the one dequantizing the row gives: on random bytes of every type, which put an infinite or NaN
/// scale (or value) in about one block in sixteen, and huge and subnormal ones in others.
/// </summary>
public sealed class DequantizeFiniteTests
{
    public static TheoryData<GgmlType> Types() => new(
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K);

    [Theory]
    [MemberData(nameof(Types))]
    public void ReadingTheScales_SaysWhatDequantizingSays(GgmlType type)
    {
        // Enough values that some rows hold a bad one and others none: a value each for F32, F16 and BF16, a scale or
        // two per 32 or 256 values for the block types.
        int columns = GgmlTypes.BlockElements(type) == 1 ? 16 : 512;
        var random = new Random((int)type + 1);
        var bytes = new byte[GgmlTypes.RowBytes(type, columns)];
        var values = new float[columns];
        int notFinite = 0;
        for (int trial = 0; trial < 2000; trial++)
        {
            random.NextBytes(bytes);
            Dequantize.Row(type, bytes, values);
            bool finite = values.All(float.IsFinite);
            if (!finite) notFinite++;
            Assert.True(finite == Dequantize.IsFinite(type, bytes, columns), $"{type}, trial {trial}: dequantized {(finite ? "finite" : "not finite")}");
        }
        Assert.InRange(notFinite, 1, 1999); // both answers were put to the test
    }
}
