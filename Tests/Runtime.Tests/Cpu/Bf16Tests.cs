using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class Bf16Tests
{
    [Fact]
    public void ToBf16_RoundsToNearestEven_AndKeepsSpecialValues()
    {
        Assert.Equal(1f, WeightMatrix.FromBf16(WeightMatrix.ToBf16(1f)));
        Assert.Equal(-2.5f, WeightMatrix.FromBf16(WeightMatrix.ToBf16(-2.5f)));
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        Assert.Equal(1f, WeightMatrix.FromBf16(WeightMatrix.ToBf16(1f + 1f / 256)));
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
        Assert.Equal(1f + 1f / 64, WeightMatrix.FromBf16(WeightMatrix.ToBf16(1f + 3f / 256)));
        Assert.True(float.IsNaN(WeightMatrix.FromBf16(WeightMatrix.ToBf16(float.NaN))));
        Assert.Equal(float.PositiveInfinity, WeightMatrix.FromBf16(WeightMatrix.ToBf16(float.PositiveInfinity)));
        Assert.Equal(float.NegativeInfinity, WeightMatrix.FromBf16(WeightMatrix.ToBf16(float.NegativeInfinity)));
    }

    [Theory]
    [InlineData(1, 64, 33)]   // decode: the register GEMV
    [InlineData(1, 100, 7)]   // decode with a K tail
    [InlineData(3, 96, 130)]  // small batch: every weight row read once for all rows
    [InlineData(17, 64, 40)]  // prefill: the GEMM (AVX512-BF16: x split into hi + lo BF16; else widened weights)
    [InlineData(70, 1100, 300)] // prefill over several tiles, column chunks and K slices
    [InlineData(2, 7, 5)]     // K below one vector
    public void MatMul_WithBf16Weights_EqualsTheF32ProductOfTheRoundedWeights(int rows, int k, int n)
    {
        var x = TestData.Random(rows * k, 1);
        var w = TestData.Random(n * k, 2);
        var bf16 = WeightMatrix.Create(w, n, k, WeightPrecision.BF16);
        var widened = bf16.ToF32();
        var expected = new float[rows * n];
        var magnitude = new float[rows * n];
        var actual = new float[rows * n];
        int calls = 0;
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, widened, n, expected);
        CpuKernels.MatMul(CpuExecution.AllCores, x.Select(Math.Abs).ToArray(), rows, k, widened.Select(Math.Abs).ToArray(), n, magnitude);
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, bf16, n, actual, (segment, row, column) => Interlocked.Add(ref calls, segment.Length));

        // Judged against Σ|x·w|: the AVX512-BF16 GEMM keeps 16 significant bits of x (|x - hi - lo| ≤ 2^-16 |x|, so
        // at most 1.5e-5 of Σ|x·w|), the other kernels all 24.
        TestData.AssertClose(expected, actual, magnitude, 2e-5, $"bf16 MatMul {rows}x{k}x{n}");
        Assert.Equal(rows * n, calls);
        Assert.Equal((long)n * k * 2, bf16.Bytes);
    }

    [Fact]
    public void BytesOf_CountsASharedArrayOnce()
    {
        var table = new float[12];
        var tied = WeightMatrix.Create(table, 3, 4, WeightPrecision.F32);
        Assert.Equal(48, WeightMatrix.BytesOf([table, tied, null]));
        Assert.Equal(48 + 24, WeightMatrix.BytesOf([table, WeightMatrix.Create(new float[12], 3, 4, WeightPrecision.BF16)]));
    }
}
