using Tessera.Quantization;
using Tessera.Runtime.Tests.Cpu;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// DotRows gives each x row's dot product with each dequantized weight row in [n0, n1) and touches no other output:
/// to 1e-5 of Σ|x·w| with the exact kernels (F32 sums in another order), and to 1e-2 of Σ|x·w| with quantizeX,
/// which rounds x to 8 bits (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K with AVX2).
/// </summary>
public class QuantizedDotTests
{
    private const float Untouched = 12345f;

    public static TheoryData<GgmlType, int, int, bool> Cases()
    {
        var data = new TheoryData<GgmlType, int, int, bool>();
        GgmlType[] types = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K,
            GgmlType.Q6_K, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.F16, GgmlType.BF16, GgmlType.F32];
        foreach (var type in types)
            foreach (int xRows in new[] { 1, 2, 3, 5 })
                foreach (int blocks in GgmlTypes.BlockElements(type) == 256 ? new[] { 1, 3 } : new[] { 1, 3, 8, 10 })
                    foreach (bool quantizeX in QuantizedDot.CanQuantizeX(type) ? new[] { false, true } : [false])
                    {
                        // The plain float types count "blocks" of 16 values, to give the kernels' vector loops work.
                        int k = blocks * (GgmlTypes.BlockElements(type) == 1 ? 16 : GgmlTypes.BlockElements(type));
                        data.Add(type, xRows, k, quantizeX);
                    }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DotRows_EqualsTheDotOfTheDequantizedRows(GgmlType type, int xRows, int k, bool quantizeX)
    {
        double relative = quantizeX ? 1e-2 : 1e-5;
        const int n = 9;
        var (weights, rowBytes) = RandomWeights(type, n, k, seed: k + xRows);
        var x = TestData.Random(xRows * k, seed: 3 * k + xRows);
        foreach (var (n0, n1) in new[] { (0, n), (1, 8), (2, 4), (3, 4), (5, 5) })
        {
            var y = Enumerable.Repeat(Untouched, xRows * n).ToArray();
            QuantizedDot.DotRows(type, weights, rowBytes, k, x, xRows, y, n, n0, n1, quantizeX);

            var row = new float[k];
            for (int j = 0; j < n; j++)
            {
                Dequantize.Row(type, weights.AsSpan((int)(j * rowBytes), (int)rowBytes), row);
                for (int r = 0; r < xRows; r++)
                {
                    float actual = y[r * n + j];
                    string what = $"{GgmlTypes.Name(type)} k={k} rows [{n0}, {n1}): y[{r}, {j}]";
                    if (j < n0 || j >= n1)
                    {
                        Assert.True(actual == Untouched, $"{what} was written ({actual}) though outside the range.");
                        continue;
                    }
                    double exact = 0, magnitude = 0;
                    for (int i = 0; i < k; i++)
                    {
                        exact += (double)x[r * k + i] * row[i];
                        magnitude += Math.Abs((double)x[r * k + i] * row[i]);
                    }
                    Assert.True(Math.Abs(actual - exact) <= relative * magnitude + 1e-30, $"{what} is {actual:R}, expected {exact:R} (Σ|x·w| {magnitude:G4}).");
                }
            }
        }
    }

    /// <summary>
    /// With quantizeX, DotRows computes what llama.cpp's CPU back end computes: the same rounding of x (to Q8_0 or
    /// Q8_K blocks, bit for bit) and the exact product with it, so only the order of F32 sums differs (by 1e-7 of
    /// Σ|x·w| here; the bound is 1e-6). The data have activation outliers (30 and −25 among normal values), which
    /// change the rounding of every block they fall in.
    /// </summary>
    [QuantizeXTheory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void DotRows_WithQuantizeX_GivesLlamaCppsProducts(GgmlType type)
    {
        var llama = LlamaProducts.Read(type);
        long rowBytes = GgmlTypes.RowBytes(type, llama.Columns);
        var y = new float[llama.XRows * llama.Rows];
        QuantizedDot.DotRows(type, llama.Weights, rowBytes, llama.Columns, llama.X, llama.XRows, y, llama.Rows, 0, llama.Rows, quantizeX: true);

        var row = new float[llama.Columns];
        for (int j = 0; j < llama.Rows; j++)
        {
            Dequantize.Row(type, llama.Weights.AsSpan((int)(j * rowBytes), (int)rowBytes), row);
            for (int r = 0; r < llama.XRows; r++)
            {
                double magnitude = 0;
                for (int i = 0; i < llama.Columns; i++) magnitude += Math.Abs((double)llama.X[r * llama.Columns + i] * row[i]);
                float expected = llama.Products[r * llama.Rows + j], actual = y[r * llama.Rows + j];
                Assert.True(Math.Abs(actual - expected) <= 1e-6 * magnitude,
                    $"{GgmlTypes.Name(type)} y[{r}, {j}] is {actual:R}, llama.cpp's {expected:R} (Σ|x·w| {magnitude:G4}).");
            }
        }
    }

    /// <summary>
    /// With quantizeX each output is computed the same way whatever else the call computes: one x row or many, the
    /// whole range or a slice of it, so a prompt and its token-by-token decode get the same bits.
    /// </summary>
    [QuantizeXTheory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void DotRows_WithQuantizeX_GivesEachOutputTheSameBits_WhateverTheRowsAndRange(GgmlType type)
    {
        const int n = 11, xRows = 5;
        int k = 2 * Math.Max(GgmlTypes.BlockElements(type), 128);
        var (weights, rowBytes) = RandomWeights(type, n, k, seed: 5);
        var x = TestData.Random(xRows * k, seed: 6);
        var all = new float[xRows * n];
        QuantizedDot.DotRows(type, weights, rowBytes, k, x, xRows, all, n, 0, n, quantizeX: true);
        for (int r = 0; r < xRows; r++)
        {
            foreach (var (n0, n1) in new[] { (0, n), (3, 4), (2, 9) })
            {
                var one = new float[n];
                QuantizedDot.DotRows(type, weights, rowBytes, k, x.AsSpan(r * k, k), 1, one, n, n0, n1, quantizeX: true);
                for (int j = n0; j < n1; j++)
                    Assert.True(BitConverter.SingleToInt32Bits(one[j]) == BitConverter.SingleToInt32Bits(all[r * n + j]),
                        $"{GgmlTypes.Name(type)} y[{r}, {j}]: {one[j]:R} alone, {all[r * n + j]:R} among {xRows} rows.");
            }
        }
    }

    [QuantizeXTheory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void XRoundedOnce_GivesTheBitsOfRoundingItInEveryCall_InEveryChunk(GgmlType type)
    {
        const int n = 11, xRows = 3;
        int k = 2 * Math.Max(GgmlTypes.BlockElements(type), 128);
        var (weights, rowBytes) = RandomWeights(type, n, k, seed: 7);
        var x = TestData.Random(xRows * k, seed: 8);
        var expected = new float[xRows * n];
        QuantizedDot.DotRows(type, weights, rowBytes, k, x, xRows, expected, n, 0, n, quantizeX: true);

        var actual = new float[xRows * n];
        var rounded = QuantizedDot.RoundX(type, x, xRows, k);
        foreach (var (n0, n1) in new[] { (0, 4), (4, 5), (5, n) }) QuantizedDot.DotRows(type, weights, rowBytes, rounded, actual, n, n0, n1);

        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }

    /// <summary>
    /// Weights quantized from normal values as a model's are, normal x: with quantizeX the outputs are within 1e-2
    /// of the exact product's norm (here 5.3e-3 with Q8_0 blocks, 7.3e-3 with Q8_K: x's rounding error is 1/(254·√3)
    /// of its block's largest |x|).
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void DotRows_RoundingXTo8Bits_StaysWithinOnePercentOfTheExactProduct(GgmlType type)
    {
        const int n = 64, k = 2048, xRows = 3;
        long rowBytes = GgmlTypes.RowBytes(type, k);
        var weights = new byte[n * rowBytes];
        for (int j = 0; j < n; j++) Quantize.Row(type, Normal(k, seed: j), weights.AsSpan((int)(j * rowBytes), (int)rowBytes));
        var x = Normal(xRows * k, seed: 1000);
        var exact = new float[xRows * n];
        var rounded = new float[xRows * n];
        QuantizedDot.DotRows(type, weights, rowBytes, k, x, xRows, exact, n, 0, n);
        QuantizedDot.DotRows(type, weights, rowBytes, k, x, xRows, rounded, n, 0, n, quantizeX: true);

        double error = Math.Sqrt(exact.Zip(rounded, (e, r) => (double)(e - r) * (e - r)).Sum());
        double size = Math.Sqrt(exact.Sum(e => (double)e * e));
        Assert.True(error <= 1e-2 * size, $"{GgmlTypes.Name(type)}: error norm {error / size:G3} of the product's norm.");
    }

    private static float[] Normal(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return values;
    }

    [Fact]
    public void DotRows_RefusesRowsShorterThanTheirBlocks_AndARangeOutsideN()
    {
        var w = new byte[4 * 18];
        var x = new float[64];
        var y = new float[4];
        Assert.Throws<ArgumentException>(() => QuantizedDot.DotRows(GgmlType.Q4_0, w, 18, 64, x, 1, y, 4, 0, 2));
        Assert.Throws<ArgumentException>(() => QuantizedDot.DotRows(GgmlType.Q4_0, w, 18, 48, x, 1, y, 4, 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => QuantizedDot.DotRows(GgmlType.Q4_0, w, 18, 32, x, 1, y, 4, 3, 5));
        Assert.Throws<NotSupportedException>(() => QuantizedDot.DotRows(GgmlType.IQ4_NL, w, 18, 32, x, 1, y, 4, 0, 4));
    }

    /// <summary>
    /// n rows of random blocks with ordinary F16 scales (|d| in [1e-3, 0.1], either sign; every quant bit pattern is
    /// fair), or for the plain float types random values; rows are padded to a rowBytes a little longer than the data.
    /// </summary>
    internal static (byte[] Weights, long RowBytes) RandomWeights(GgmlType type, int n, int k, int seed)
    {
        var random = new Random(seed);
        long dataBytes = GgmlTypes.RowBytes(type, k), rowBytes = dataBytes + 16;
        var weights = new byte[n * rowBytes];
        if (type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
        {
            for (int j = 0; j < n; j++)
            {
                var floats = TestData.Random(k, seed + j);
                for (int i = 0; i < k; i++)
                {
                    var at = weights.AsSpan((int)(j * rowBytes) + i * GgmlTypes.BlockBytes(type));
                    if (type == GgmlType.F32) BitConverter.TryWriteBytes(at, floats[i]);
                    else if (type == GgmlType.F16) BitConverter.TryWriteBytes(at, BitConverter.HalfToUInt16Bits((Half)floats[i]));
                    else BitConverter.TryWriteBytes(at, (ushort)(BitConverter.SingleToUInt32Bits(floats[i]) >> 16));
                }
            }
            return (weights, rowBytes);
        }
        random.NextBytes(weights);
        int blockBytes = GgmlTypes.BlockBytes(type);
        for (int j = 0; j < n; j++)
            for (long b = 0; b < dataBytes; b += blockBytes)
                foreach (int offset in ScaleOffsets(type))
                {
                    float scale = (float)((random.NextDouble() * 0.099 + 0.001) * (random.Next(2) == 0 ? -1 : 1));
                    BitConverter.TryWriteBytes(weights.AsSpan((int)(j * rowBytes + b + offset)), BitConverter.HalfToUInt16Bits((Half)scale));
                }
        return (weights, rowBytes);
    }

    /// <summary>Where each block keeps its F16 scales (ggml-common.h).</summary>
    private static int[] ScaleOffsets(GgmlType type) => type switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q6_K => [208],
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
