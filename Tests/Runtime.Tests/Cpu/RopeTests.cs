using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class RopeTests
{
    [Theory]
    [InlineData(1, 1, 2, 10000f)]
    [InlineData(5, 4, 64, 10000f)]
    [InlineData(130, 12, 64, 10000f)]
    [InlineData(17, 8, 128, 500000f)]
    [InlineData(2, 3, 34, 1000000f)]  // half = 17: vector body plus a scalar tail
    public void Rope_MatchesReference(int rows, int heads, int headDim, float theta)
    {
        var positions = Enumerable.Range(0, rows).Select(r => r * 97 % 3000).ToArray();
        Check(rows, heads, headDim, theta, positions);
    }

    [Fact]
    public void Rope_MatchesReference_AtLongPositions_AfterTheTableGrows()
    {
        Check(2, 2, 64, 10000f, [3, 5]);
        Check(2, 2, 64, 10000f, [40_000, 131_071]);
        Check(3, 2, 64, 10000f, [0, 1, 7]);
    }

    [Fact]
    public void Rope_IsThreadSafe_WhileTablesGrow()
    {
        // Several threads ask for ever longer tables of the same (headDim, theta) at once; each must read a filled one.
        const int headDim = 48;
        const float theta = 12345f;
        Parallel.For(0, 16, i =>
        {
            int[] positions = [i * 700 + 5, i * 1400 + 1];
            Check(2, 3, headDim, theta, positions);
        });
    }

    [Theory]
    [InlineData(96, 0.75f, 72)]   // Phi-4-mini: 3/4 of each head rotates
    [InlineData(64, 0.5f, 32)]
    [InlineData(80, 0.4f, 32)]    // 80 x 0.4f is 32.0000005 in float: still 32, as int(80 * 0.4) is in Python
    [InlineData(20, 0.7f, 14)]    // 20 x 0.7f is 13.9999998 in float; int(20 * 0.7) is 14 in Python, and so here
    public void RotaryDims_AreTheTruncatedFractionOfTheHead_AsHuggingFaceComputesThem(int headDim, float fraction, int expected) =>
        Assert.Equal(expected, CpuKernels.RotaryDims(headDim, fraction));

    [Theory]
    [InlineData(7, 1f)]     // an odd head rotates an odd number of dimensions: they do not pair up
    [InlineData(16, 0f)]
    [InlineData(16, 1.5f)]
    public void Rope_RefusesRotaryDimensionsThatDoNotPairUpWithinTheHead(int headDim, float fraction)
    {
        var x = new float[headDim];
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Rope(CpuExecution.SingleThread, x, 1, 1, headDim, [0], 10000f, rotaryFraction: fraction));
        Assert.Contains("even", error.Message);
    }

    [Theory]
    [InlineData(3, 2, 96, 0.75f, 72)]
    [InlineData(17, 4, 64, 0.5f, 32)]
    public void Rope_WithAPartialRotaryFactor_RotatesTheFirstDimensionsOfEachHead_AndPassesTheRest(int rows, int heads, int headDim, float fraction, int rotaryDim)
    {
        var positions = Enumerable.Range(0, rows).Select(r => r * 31 % 500).ToArray();
        var expected = TestData.Random(rows * heads * headDim, rows + headDim);
        var x = (float[])expected.Clone();
        ReferenceKernels.Rope(expected, rows, heads, headDim, positions, 10000f, rotaryDim);
        CpuKernels.Rope(CpuExecution.AllCores, x, rows, heads, headDim, positions, 10000f, rotaryFraction: fraction);
        TestData.AssertClose(expected, x, 1e-6, $"partial Rope d={headDim} r={rotaryDim}", floor: 1);
    }

    [Fact]
    public void Llama3Scaling_GivesTheFrequenciesOfTheLlama31FixturesReadme_InAllThreeBands()
    {
        // shared/fixtures/tiny-llama31/README.md: theta 500000, head_dim 32, factor 8, low 1, high 4, original 48.
        var inverse = RopeScaling.Llama3(8, 1, 4, 48).InverseFrequencies(32, 500000);
        Assert.Equal(1, inverse[0], 6);                      // high band: unchanged
        Assert.Equal(0.358698, inverse[1], 6);               // medium band: smoothed
        Assert.Equal(0.0514721, inverse[2], 6);
        Assert.Equal(0.0106746, inverse[3], 6);              // low band: divided by the factor
        Assert.Equal(5.67709e-07, inverse[15], 11);
    }

    [Fact]
    public void LinearScaling_DividesEveryFrequency_AndYarn_KeepsFastOnesInterpolatesSlowOnes_AndScalesCosAndSin()
    {
        var plain = RopeScaling.None.InverseFrequencies(16, 10000);
        var linear = RopeScaling.Linear(4).InverseFrequencies(16, 10000);
        for (int j = 0; j < 8; j++) Assert.Equal(plain[j] / 4, linear[j], 12);

        // yarn over an original context of 32: the ramp runs from floor(corr(beta_fast = 32)) = floor(-1.60) -> 0 to
        // ceil(corr(beta_slow = 1)) = ceil(1.41) = 2, corr(n) = d ln(32 / (2 pi n)) / (2 ln theta): dim 0 keeps its
        // frequency, dim 1 is half way, dims from 2 on are divided by the factor.
        var yarn = RopeScaling.Yarn(4, 32);
        var scaled = yarn.InverseFrequencies(16, 10000);
        double Corr(double rotations) => 16 * Math.Log(32 / (rotations * 2 * Math.PI)) / (2 * Math.Log(10000));
        Assert.Equal(-1.596, Corr(32), 3);
        Assert.Equal(1.414, Corr(1), 3);
        Assert.Equal(plain[0], scaled[0], 12);
        Assert.Equal(plain[1] / 4 * 0.5 + plain[1] * 0.5, scaled[1], 12);
        for (int j = 2; j < 8; j++) Assert.Equal(plain[j] / 4, scaled[j], 12);
        Assert.Equal(0.1 * Math.Log(4) + 1, yarn.AttentionFactor, 12);

        // The kernel's table carries the attention factor: cos and sin at position 1 of dim 0 are scaled by it.
        var (cos, sin) = CpuKernels.RopeAngles(16, 10000, 2, yarn);
        Assert.Equal(Math.Cos(plain[0]) * yarn.AttentionFactor, cos[8], 6);
        Assert.Equal(Math.Sin(plain[0]) * yarn.AttentionFactor, sin[8], 6);
    }

    private static void Check(int rows, int heads, int headDim, float theta, int[] positions)
    {
        var expected = TestData.Random(rows * heads * headDim, rows + headDim);
        var x = (float[])expected.Clone();
        ReferenceKernels.Rope(expected, rows, heads, headDim, positions, theta);
        CpuKernels.Rope(CpuExecution.AllCores, x, rows, heads, headDim, positions, theta);
        TestData.AssertClose(expected, x, 1e-6, $"Rope T={rows} H={heads} d={headDim} theta={theta}", floor: 1);
    }
}
