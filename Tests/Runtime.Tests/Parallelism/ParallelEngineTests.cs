using Tessera.Parallelism;

// These tests block on purpose (with timeouts): what they test is blocking transports and worker threads.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class ParallelEngineTests(ToyCheckpointFixture fixture) : IClassFixture<ToyCheckpointFixture>
{
    private ToyCheckpoint Checkpoint => fixture.Checkpoint;

    [Theory]
    [InlineData("single")]
    [InlineData("dp2")]
    [InlineData("dp3")]
    [InlineData("mp2")]
    [InlineData("pp2m4")]
    [InlineData("pp3[2,1,1]")]
    [InlineData("pp4m2")]
    [InlineData("tp2")]
    [InlineData("tp4")]
    [InlineData("tp2xpp2")]
    [InlineData("dp2xtp2xpp2")]
    public void EveryPlan_GivesTheSingleRankLogits_BitForBit(string plan)
    {
        var expected = fixture.Reference;
        using var engine = ToyScenario.Create(Checkpoint, ToyScenario.Plan(plan));
        var actual = ToyScenario.Run(engine.CreateCache, engine.Forward);
        Assert.Equal(expected.Count, actual.Count);
        for (int step = 0; step < expected.Count; step++)
        {
            Assert.True(expected[step].AsSpan().SequenceEqual(actual[step]), $"{plan}: step {step} differs from the single rank:\n{string.Join(" ", expected[step])}\n{string.Join(" ", actual[step])}");
        }
        // The reference is not degenerate: the logits vary.
        Assert.True(expected[0].Distinct().Count() > 5);
    }

    [Fact]
    public void Reference_HasOneLogitRowPerWantedRow()
    {
        var r = fixture.Reference;
        Assert.Equal(ToyScenario.Prompts.Sum(p => p.Length) * ToyCheckpoint.Vocab, r[0].Length);
        Assert.Equal(5 * ToyCheckpoint.Vocab, r[1].Length);
        Assert.Equal(3 * ToyCheckpoint.Vocab, r[2].Length);
        Assert.Equal(2 * ToyCheckpoint.Vocab, r[3].Length);
    }

    [Fact]
    public void RankLayout_TensorVariesFastest_AndLinksJoinNeighbouringStages()
    {
        using var engine = ToyScenario.Create(Checkpoint, ToyScenario.Plan("dp2xtp2xpp2"));
        var ranks = engine.Ranks;
        Assert.Equal(8, ranks.Count);
        for (int r = 0; r < 8; r++)
        {
            Assert.Equal(r, ranks[r].Rank);
            Assert.Equal(r / 4, ranks[r].DataRank);
            Assert.Equal(r / 2 % 2, ranks[r].Stage);
            Assert.Equal(r % 2, ranks[r].TensorRank);
            Assert.Equal(2, ranks[r].TensorDegree);
            Assert.Equal($"cpu:{r}", engine.Devices[r].Name);
            Assert.Equal(ranks[r].Stage == 0 ? (0, 2) : (2, 4), (ranks[r].FirstLayer, ranks[r].EndLayer));
        }
        // Stage 0's next link is stage 1's previous link, for the same replica and tensor rank.
        for (int d = 0; d < 2; d++)
            for (int t = 0; t < 2; t++)
            {
                var first = ranks[d * 4 + t];
                var second = ranks[d * 4 + 2 + t];
                Assert.Same(first.Next, second.Previous);
                Assert.Null(first.Previous);
                Assert.Null(second.Next);
            }
        Assert.NotSame(ranks[0].Next, ranks[1].Next);
        Assert.Equal([2, 2], engine.LayerSplit);
    }

    [Fact]
    public void Memory_TensorParallelismHalvesTheLayerWeightsAndTheKvCache()
    {
        using var single = ToyScenario.Create(Checkpoint, new ParallelPlan());
        using var tp2 = ToyScenario.Create(Checkpoint, new ParallelPlan(Tensor: 2));
        ToyScenario.Run(single.CreateCache, single.Forward);
        ToyScenario.Run(tp2.CreateCache, tp2.Forward);
        const int v = ToyCheckpoint.Vocab, c = ToyCheckpoint.Width, h = ToyCheckpoint.Hidden, l = ToyCheckpoint.Layers;
        long embed = 4L * v * c, layers = 4L * l * 2 * c * h, head = 4L * v * c;
        Assert.Equal(embed + layers + head, single.Devices[0].Memory.Weights);
        Assert.Equal(embed + layers / 2 + head / 2, tp2.Devices[0].Memory.Weights);
        Assert.Equal(tp2.Devices[0].Memory.Weights, tp2.Devices[1].Memory.Weights);
        Assert.Equal(single.Devices[0].Memory.KvCache, 2 * tp2.Devices[0].Memory.KvCache);
        Assert.True(single.Devices[0].Memory.KvCache > 0);
        Assert.Equal(single.WeightBytes + embed, tp2.WeightBytes); // the embedding is replicated
        Assert.Contains("weights", single.Devices[0].Memory.ToString());
    }

    [Fact]
    public void DataParallelReplicas_KeepTheirSequencesCachesOnTheirOwnDevices()
    {
        using var engine = ToyScenario.Create(Checkpoint, new ParallelPlan(Data: 2));
        ToyScenario.Run(engine.CreateCache, engine.Forward);
        // 6 sequences over 2 replicas: both replicas hold some, neither holds all.
        Assert.True(engine.Devices[0].Memory.KvCache > 0);
        Assert.True(engine.Devices[1].Memory.KvCache > 0);
        long perSequence = 2L * ToyCheckpoint.Layers * ToyCheckpoint.Context * ToyCheckpoint.Width * 4;
        Assert.Equal(6 * perSequence, engine.Devices.Sum(d => d.Memory.KvCache));
        Assert.Equal(0, engine.BytesSentPerDevice.Sum()); // replicas do not talk
    }

    [Fact]
    public void Shape_AndCaches_ComeFromTheFacts()
    {
        using var engine = ToyScenario.Create(Checkpoint, new ParallelPlan(Pipeline: 2));
        Assert.Equal(new ModelShape("Toy", ToyCheckpoint.Vocab, ToyCheckpoint.Context, ToyCheckpoint.Layers, ToyCheckpoint.Width, ToyCheckpoint.Width), engine.Shape);
        var cache = engine.CreateCache();
        Assert.True(cache.IsHandle);
        Assert.Equal(0, cache.Bytes);
        Assert.Equal(ToyCheckpoint.Context, cache.Capacity);
        engine.Forward(TokenBatch.ForSequence(cache, [1, 2, 3]));
        Assert.Equal(3, cache.Length);
        var foreign = new KvCache(1, 16, 8);
        var e = Assert.Throws<ArgumentException>(() => engine.Forward(TokenBatch.ForSequence(foreign, [1])));
        Assert.Contains("CreateCache", e.Message);
    }

    [Fact]
    public void CommunicationBytes_AreCounted_AndTheReportShowsTheDeviceMap()
    {
        using var engine = ToyScenario.Create(Checkpoint, new ParallelPlan(Pipeline: 2, Tensor: 2, MicroBatches: 2));
        var cache = engine.CreateCache();
        engine.Forward(TokenBatch.ForSequence(cache, [1, 2, 3]));
        // Stage 0 sends 3 rows of width 8 to stage 1 from each tensor rank.
        var link = engine.Ranks[0].Next!;
        Assert.Equal(3 * ToyCheckpoint.Width * 4, link.BytesSent);
        Assert.True(engine.BytesSent(0) > link.BytesSent); // plus its all-reduces
        Assert.True(engine.BytesSent(2) > 0);
        string report = engine.Report();
        Assert.Contains("cpu:3", report);
        Assert.Contains("embeddings", report);
        Assert.Contains("head (vocab 1/2)", report);
        Assert.Contains("predicted bubble", report);
        Assert.Contains("stage boundaries", report);
        Assert.Contains("all-reduce", report);
        Assert.Contains("KV cache", report);
    }

    [Fact]
    public void InvalidPlan_IsRejectedBeforeAnythingIsLoaded()
    {
        var e = Assert.Throws<PlanException>(() => ToyScenario.Create(Checkpoint, new ParallelPlan(Tensor: 3, Pipeline: 5)));
        Assert.Contains("tp = 3 does not divide Width = 8, Hidden = 8, Vocab = 8; degrees that work: 1, 2, 4, 8", e.Message);
        Assert.Contains("pp = 5", e.Message);
        Assert.Equal(2, e.Problems.Count);
    }

    [Fact]
    public void CheckpointErrorsOnARank_SurfaceFromCreate()
    {
        var e = Assert.ThrowsAny<Exception>(() => ParallelEngine.Create(Checkpoint.Directory, new ParallelPlan(Pipeline: 2),
            (c, rank, _) => rank.Stage == 1 ? throw new InvalidOperationException("cannot load stage 1") : new ToyRankProgram(c, rank), ToyCheckpoint.Facts));
        Assert.Contains("cannot load stage 1", e.Message);
    }

    [Fact]
    public void EveryRankProgram_IsGivenThePlansPrecision_AndItsDevicesShareOfTheCores()
    {
        var given = new System.Collections.Concurrent.ConcurrentBag<Tessera.Cpu.CpuRankOptions>();
        using var engine = ParallelEngine.Create(Checkpoint.Directory, new ParallelPlan(Pipeline: 2, Tensor: 2, MicroBatches: 2) { Precision = Tessera.Cpu.WeightPrecision.BF16 },
            (c, rank, options) =>
            {
                given.Add(options);
                return new ToyRankProgram(c, rank);
            }, ToyCheckpoint.Facts);

        Assert.Equal(4, given.Count);
        Assert.All(given, o => Assert.Equal(Tessera.Cpu.WeightPrecision.BF16, o.Precision));
        Assert.All(given, o => Assert.Equal(Math.Max(1, Environment.ProcessorCount / 4), o.Execution.Threads));
    }
}

/// <summary>One toy checkpoint and its reference logits per test class.</summary>
public sealed class ToyCheckpointFixture : IDisposable
{
    public ToyCheckpointFixture()
    {
        Checkpoint = new ToyCheckpoint();
        Reference = ToyScenario.Reference(Checkpoint);
    }

    public ToyCheckpoint Checkpoint { get; }

    public List<float[]> Reference { get; }

    public void Dispose() => Checkpoint.Dispose();
}
