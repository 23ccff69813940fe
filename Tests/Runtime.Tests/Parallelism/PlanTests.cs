using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class PlanTests
{
    /// <summary>A Llama-like model: 4 layers, 8 heads, 4 KV heads, 10 MB per layer.</summary>
    private static ModelFacts Llama(int layers = 4, double headFlops = 1e6, long headBytes = 1_000_000) =>
        new("Llama", layers, 20e6, 10_000_000, 1_000_000, headFlops, headBytes, 2048, 512, 32000, 2048,
            [("Heads", 8), ("KvHeads", 4)]);

    [Fact]
    public void AGoodPlan_HasNoProblems()
    {
        var plan = new ParallelPlan(Data: 2, Pipeline: 2, Tensor: 4, MicroBatches: 4, LayersPerStage: [3, 1]);
        Assert.Empty(plan.Validate(Llama()));
        plan.ThrowIfInvalid(Llama());
        Assert.Equal(16, plan.DeviceCount);
        Assert.Equal("dp2 x pp2 x tp4 (16 devices), 4 micro-batches, layers [3, 1]", plan.ToString());
    }

    [Fact]
    public void TensorDegree_ThatDoesNotDivide_NamesTheSplitsAndTheDegreesThatWork()
    {
        var problems = new ParallelPlan(Tensor: 3).Validate(Llama());
        Assert.Equal(["tp = 3 does not divide Heads = 8, KvHeads = 4; degrees that work: 1, 2, 4."], problems);
        // 8 divides Heads but not KvHeads: only KvHeads is named.
        Assert.Equal(["tp = 8 does not divide KvHeads = 4; degrees that work: 1, 2, 4."], new ParallelPlan(Tensor: 8).Validate(Llama()));
    }

    [Fact]
    public void MoreStagesThanLayers_IsAProblem()
    {
        var problem = Assert.Single(new ParallelPlan(Pipeline: 5).Validate(Llama()));
        Assert.Contains("pp = 5 stages but Llama has 4 layers", problem);
    }

    [Theory]
    [InlineData(0, 1, 1, 1, "data-parallel degree must be at least 1")]
    [InlineData(1, 0, 1, 1, "pipeline degree must be at least 1")]
    [InlineData(1, 1, 0, 1, "tensor-parallel degree must be at least 1")]
    [InlineData(1, 1, 1, 0, "micro-batches must be at least 1 (got 0)")]
    [InlineData(1, 1, 1, -2, "micro-batches must be at least 1 (got -2)")]
    public void DegreesBelowOne_AreProblems(int d, int p, int t, int m, string message)
    {
        Assert.Contains(new ParallelPlan(d, p, t, m).Validate(Llama()), x => x.Contains(message));
    }

    [Fact]
    public void HandSplits_MustPlaceEveryLayerExactlyOnce()
    {
        var zero = new ParallelPlan(Pipeline: 2, LayersPerStage: [4, 0]).Validate(Llama());
        Assert.Contains(zero, x => x.Contains("[4, 0] gives stage 1 0 layers: every stage needs at least one layer"));
        Assert.Single(zero);

        var threeZero = new ParallelPlan(Pipeline: 2, LayersPerStage: [3, 0]).Validate(Llama());
        Assert.Equal(2, threeZero.Count);
        Assert.Contains(threeZero, x => x.Contains("[3, 0] covers 3 layers but Llama has 4: the split must place every layer exactly once, in order"));

        var count = Assert.Single(new ParallelPlan(Pipeline: 2, LayersPerStage: [2, 1, 1]).Validate(Llama()));
        Assert.Contains("[2, 1, 1] has 3 entries but pp = 2", count);

        var sum = Assert.Single(new ParallelPlan(Pipeline: 2, LayersPerStage: [3, 2]).Validate(Llama()));
        Assert.Contains("covers 5 layers but Llama has 4", sum);

        var negative = new ParallelPlan(Pipeline: 3, LayersPerStage: [5, -1, 0]).Validate(Llama());
        Assert.Contains(negative, x => x.Contains("stage 1 -1 layers, stage 2 0 layers"));
    }

    [Fact]
    public void MemoryBudget_Exceeded_GivesThePerDeviceFigureAndTheBudget()
    {
        // pp2 balanced [2, 2]: stage 0 = 2 x 10 MB + 1 MB embeddings = 21 MB; KV 2048 B x 2048 tokens x 2 layers = 8 MiB.
        var plan = new ParallelPlan(Pipeline: 2).WithMemory("20MB");
        var problem = Assert.Single(plan.Validate(Llama()));
        Assert.Contains("needs 29.39 MB but has 20 MB", problem);
        Assert.Contains("stage 0: layers 0-1, embeddings", problem);
        Assert.Contains("21 MB of weights + 8 MiB of KV cache for one 2048-token sequence", problem);

        // tp2 halves it.
        Assert.Empty((plan with { Tensor = 2 }).Validate(Llama()));
        Assert.Contains("512 MiB", Assert.Single(new ParallelPlan().WithMemory("512MiB").Validate(Llama(layers: 4, headBytes: 600_000_000))));
        var e = Assert.Throws<PlanException>(() => plan.ThrowIfInvalid(Llama()));
        Assert.Contains("20 MB", e.Message);
    }

    [Theory]
    [InlineData("80GB", 80_000_000_000L)]
    [InlineData("512MiB", 512L << 20)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("1.5 GiB", 3L << 29)]
    [InlineData("4096", 4096L)]
    [InlineData("64kb", 64_000L)]
    [InlineData(" 2 TB ", 2_000_000_000_000L)]
    [InlineData("100B", 100L)]
    public void MemorySizes_Parse(string text, long bytes)
    {
        Assert.Equal(bytes, ParallelPlan.ParseMemory(text));
    }

    [Theory]
    [InlineData("")]
    [InlineData("lots")]
    [InlineData("-1GB")]
    [InlineData("12 parsecs")]
    public void BadMemorySizes_SayWhatIsAccepted(string text)
    {
        Assert.Contains("512MiB", Assert.Throws<FormatException>(() => ByteSize.Parse(text)).Message);
    }

    [Fact]
    public void ByteSizes_FormatReadably()
    {
        Assert.Equal("512 MiB", ByteSize.Format(512L << 20));
        Assert.Equal("80 GB", ByteSize.Format(80_000_000_000));
        Assert.Equal("1.21 GB", ByteSize.Format(1_210_000_000));
        Assert.Equal("999 B", ByteSize.Format(999));
        Assert.Equal("1 KiB", ByteSize.Format(1024));
        Assert.Equal("8 MiB", ByteSize.Format(8L << 20));
        Assert.Equal("29.39 MB", ByteSize.Format(29_388_608));
    }
}
