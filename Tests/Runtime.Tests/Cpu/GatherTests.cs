using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class GatherTests
{
    [Theory]
    [InlineData(1, 7, false)]
    [InlineData(5, 64, true)]
    [InlineData(300, 769, false)]
    [InlineData(300, 769, true)]
    public void Gather_MatchesReference(int rows, int dim, bool accumulate)
    {
        const int vocab = 50;
        var table = TestData.Random(vocab * dim, 1);
        var ids = Enumerable.Range(0, rows).Select(i => (i * 37 + 11) % vocab).ToArray();
        var expected = TestData.Random(rows * dim, 2);
        var y = (float[])expected.Clone();
        ReferenceKernels.Gather(table, dim, ids, expected, accumulate);
        CpuKernels.Gather(CpuExecution.AllCores, table, dim, ids, y, accumulate);
        Assert.Equal(expected, y);
    }
}
