using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class RopeTests
{
    [Theory]
    [InlineData(1, 1, 2, 10000f)]
    [InlineData(3, 2, 7, 10000f)]     // odd head size: the last element is not rotated
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

    private static void Check(int rows, int heads, int headDim, float theta, int[] positions)
    {
        var expected = TestData.Random(rows * heads * headDim, rows + headDim);
        var x = (float[])expected.Clone();
        ReferenceKernels.Rope(expected, rows, heads, headDim, positions, theta);
        CpuKernels.Rope(CpuExecution.AllCores, x, rows, heads, headDim, positions, theta);
        TestData.AssertClose(expected, x, 1e-6, $"Rope T={rows} H={heads} d={headDim} theta={theta}", floor: 1);
    }
}
