using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class NormTests
{
    public static TheoryData<int, int> Shapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int rows in new[] { 1, 3, 200 })
            foreach (int dim in new[] { 1, 7, 16, 64, 255, 769 })
                data.Add(rows, dim);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void RmsNorm_MatchesReference(int rows, int dim)
    {
        var x = TestData.Random(rows * dim, dim, scale: 3);
        var w = TestData.Random(dim, dim + 1);
        var expected = new float[rows * dim];
        ReferenceKernels.RmsNorm(x, w, expected, rows, dim, 1e-5f);
        var y = new float[rows * dim];
        CpuKernels.RmsNorm(CpuExecution.AllCores, x, w, y, rows, dim, 1e-5f);
        TestData.AssertClose(expected, y, 1e-5, $"RmsNorm T={rows} C={dim}", floor: 1e-3);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LayerNorm_MatchesReference(int rows, int dim)
    {
        // An offset mean checks that the variance is taken around the mean (two passes), not as E[x²] - mean².
        var x = TestData.Random(rows * dim, dim, scale: 3).Select(v => v + 50f).ToArray();
        var w = TestData.Random(dim, dim + 1);
        var b = TestData.Random(dim, dim + 2);
        var expected = new float[rows * dim];
        ReferenceKernels.LayerNorm(x, w, b, expected, rows, dim, 1e-5f);
        var y = new float[rows * dim];
        CpuKernels.LayerNorm(CpuExecution.AllCores, x, w, b, y, rows, dim, 1e-5f);
        // x ≈ 50 carries ~4e-6 of rounding into x - mean, so outputs of size ~1 agree to about 1e-5 absolute.
        TestData.AssertClose(expected, y, 1e-4, $"LayerNorm T={rows} C={dim}", floor: 1);
    }

    [Fact]
    public void Norms_WorkInPlace()
    {
        const int rows = 5, dim = 33;
        var x = TestData.Random(rows * dim, 1);
        var w = TestData.Random(dim, 2);
        var b = TestData.Random(dim, 3);

        var expected = new float[rows * dim];
        ReferenceKernels.RmsNorm(x, w, expected, rows, dim, 1e-6f);
        var inPlace = (float[])x.Clone();
        CpuKernels.RmsNorm(CpuExecution.AllCores, inPlace, w, inPlace, rows, dim, 1e-6f);
        TestData.AssertClose(expected, inPlace, 1e-5, "RmsNorm in place", floor: 1e-3);

        ReferenceKernels.LayerNorm(x, w, b, expected, rows, dim, 1e-6f);
        inPlace = (float[])x.Clone();
        CpuKernels.LayerNorm(CpuExecution.AllCores, inPlace, w, b, inPlace, rows, dim, 1e-6f);
        // Centred outputs are O(1): one near zero carries the row's rounding in absolute terms, as in LayerNorm_MatchesReference.
        TestData.AssertClose(expected, inPlace, 1e-5, "LayerNorm in place", floor: 1);
    }

    [Fact]
    public void Norms_LeaveElementsAfterTheRowsUntouched()
    {
        var x = TestData.Random(2 * 8 + 4, 1);
        var y = Enumerable.Repeat(7f, x.Length).ToArray();
        CpuKernels.RmsNorm(CpuExecution.AllCores, x, TestData.Random(8, 2), y, 2, 8, 1e-5f);
        Assert.All(y[16..], v => Assert.Equal(7f, v));
        CpuKernels.LayerNorm(CpuExecution.AllCores, x, TestData.Random(8, 2), TestData.Random(8, 3), y, 2, 8, 1e-5f);
        Assert.All(y[16..], v => Assert.Equal(7f, v));
    }
}
