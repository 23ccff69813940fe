using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class PartitionerTests
{
    private static ModelFacts Facts(int layers, double headFlops = 0, long headBytes = 0, long embedBytes = 0) =>
        new("M", layers, 1e9, 0, embedBytes, headFlops, headBytes, 8, 64, 100, 128, [("Heads", 4)]);

    [Theory]
    [InlineData(4, 2, new[] { 2, 2 })]
    [InlineData(5, 2, new[] { 3, 2 })]
    [InlineData(4, 4, new[] { 1, 1, 1, 1 })]
    [InlineData(7, 3, new[] { 3, 2, 2 })]
    [InlineData(3, 1, new[] { 3 })]
    public void UniformLayers_SplitEvenly_EarlierStagesTakeTheRemainder(int layers, int stages, int[] expected)
    {
        Assert.Equal(expected, StagePartitioner.Balance(Facts(layers), stages));
    }

    [Fact]
    public void AHeavyHead_PushesLayersToEarlierStages()
    {
        // The head costs as much as three layers: the last stage gets fewer layers.
        var split = StagePartitioner.Balance(Facts(8, headFlops: 3e9), 2);
        Assert.Equal([6, 2], split);
        var split3 = StagePartitioner.Balance(Facts(9, headFlops: 3e9), 3);
        Assert.Equal(9, split3.Sum());
        Assert.True(split3[^1] < split3[0]);
    }

    [Fact]
    public void HeavyEmbeddings_PushLayersToLaterStages()
    {
        var split = StagePartitioner.Balance(Facts(8, embedBytes: (long)(2 * 50e9 / 100e9 * 1e9 * 2)), 2); // embeddings ~ 2 layers
        Assert.True(split[0] < split[1], string.Join(",", split));
    }

    [Fact]
    public void Balance_IsOptimal_AgainstEveryContiguousSplit()
    {
        var random = new Random(3);
        for (int trial = 0; trial < 20; trial++)
        {
            int layers = random.Next(2, 9), stages = random.Next(1, layers + 1);
            var facts = Facts(layers, headFlops: random.NextDouble() * 5e9, embedBytes: (long)(random.NextDouble() * 1e8));
            var split = StagePartitioner.Balance(facts, stages);
            Assert.Equal(layers, split.Sum());
            Assert.All(split, s => Assert.True(s >= 1));
            double best = Compositions(layers, stages).Min(c => MaxCost(facts, c));
            Assert.Equal(best, MaxCost(facts, split), 9);
        }
    }

    private static double MaxCost(ModelFacts facts, int[] split) =>
        StagePartitioner.LayerRanges(split).Max(r => StagePartitioner.StageSeconds(facts, r.First, r.End));

    private static IEnumerable<int[]> Compositions(int n, int parts)
    {
        if (parts == 1)
        {
            yield return [n];
            yield break;
        }
        for (int first = 1; first <= n - parts + 1; first++)
            foreach (var rest in Compositions(n - first, parts - 1))
                yield return [first, .. rest];
    }

    [Fact]
    public void LayerRanges_AreContiguous()
    {
        Assert.Equal([(0, 3), (3, 4), (4, 6)], StagePartitioner.LayerRanges([3, 1, 2]));
    }

    [Fact]
    public void Requests_SplitEvenly_RemainderFirst_AndComeBackInOrder()
    {
        var partitioner = new RequestPartitioner(3);
        var partition = partitioner.Partition(8);
        Assert.Equal([3, 3, 2], partition.SequencesOfReplica.Select(r => r.Length));
        Assert.Equal(Enumerable.Range(0, 8), partition.SequencesOfReplica.SelectMany(r => r).Order());
        // Deterministic with the default seed; shuffled (not simply 0,1,2 | 3,4,5 | 6,7).
        Assert.Equal(partition.SequencesOfReplica, partitioner.Partition(8).SequencesOfReplica);
        Assert.NotEqual([0, 1, 2], partition.SequencesOfReplica[0]);

        // Each replica "answers" with its sequences' ids; Restore puts them back in the caller's order.
        var outputs = partition.SequencesOfReplica.Select(r => (IReadOnlyList<string>)r.Select(s => $"answer {s}").ToArray()).ToArray();
        Assert.Equal(Enumerable.Range(0, 8).Select(s => $"answer {s}"), partition.Restore(outputs));
        for (int s = 0; s < 8; s++)
        {
            var (replica, index) = partition.Locate(s);
            Assert.Equal(s, partition.SequencesOfReplica[replica][index]);
        }
    }

    [Fact]
    public void PinnedSequences_StayOnTheirReplica()
    {
        var partition = new RequestPartitioner(2).Partition([1, 1, -1, -1, 0]);
        Assert.Contains(0, partition.SequencesOfReplica[1]);
        Assert.Contains(1, partition.SequencesOfReplica[1]);
        Assert.Contains(4, partition.SequencesOfReplica[0]);
        // The free ones fill the emptier replica first.
        Assert.Equal([3, 2], partition.SequencesOfReplica.Select(r => r.Length));
    }

    [Fact]
    public void FewerSequencesThanReplicas_LeavesSomeIdle()
    {
        var partition = new RequestPartitioner(4, seed: 9).Partition(2);
        Assert.Equal([1, 1, 0, 0], partition.SequencesOfReplica.Select(r => r.Length));
        Assert.Equal([3, 2], RequestPartitioner.EvenSizes(5, 2));
        Assert.Equal([1, 1, 0], RequestPartitioner.EvenSizes(2, 3));
    }
}
