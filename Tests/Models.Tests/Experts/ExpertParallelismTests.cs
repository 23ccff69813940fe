using Tessera.Checkpoints;
using Tessera.Experts;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Experts;

/// <summary>
/// The mixture of experts under expert parallelism: each device holds only its experts, tokens reach them through the
/// all-to-all, the routers' counts are the fixture's, and every plan generates the reference continuation.
/// </summary>
public sealed class ExpertParallelismTests
{
    private static string Directory => Fixtures.Directory(Fixtures.TinyMixtral);

    /// <summary>The fixture's expert_counts [layers, experts]: the reference fed the 24 prompt tokens, then the first 15 greedy tokens one by one.</summary>
    private static int[] ReferenceExpertCounts()
    {
        using var file = SafetensorsFile.Open(Path.Combine(Directory, "reference.safetensors"));
        return file.ReadInt32("expert_counts");
    }

    /// <summary>Feeds the reference's way: the prompt in one forward, then greedy tokens one at a time.</summary>
    private static void FeedAsTheReferenceDid(ITransformerEngine engine, Reference reference)
    {
        var cache = engine.CreateCache();
        engine.Forward(TokenBatch.ForSequence(cache, reference.Tokens, lastLogitsOnly: true));
        foreach (int token in reference.Greedy[..15])
            engine.Forward(TokenBatch.ForSequence(cache, [token], lastLogitsOnly: true));
    }

    private static long[] Flatten(ExpertLoad load) =>
        Enumerable.Range(0, load.Layers).SelectMany(l => Enumerable.Range(0, load.Experts).Select(e => load[l, e])).ToArray();

    [Fact]
    public void TheRoutersCounts_OnOneDevice_AreTheReferencesExpertCounts()
    {
        var reference = Fixtures.Load(Fixtures.TinyMixtral);
        var engine = EngineCatalog.Open(Directory);

        FeedAsTheReferenceDid(engine, reference);

        var load = Assert.IsAssignableFrom<IExpertRouted>(engine).ExpertLoad;
        Assert.Equal(ReferenceExpertCounts().Select(c => (long)c), Flatten(load));
    }

    [Theory]
    [InlineData(2, 1, 1)]
    [InlineData(4, 1, 1)]
    [InlineData(2, 2, 1)]
    [InlineData(2, 1, 3)]
    public void TheRoutersCounts_SummedOverTheRanks_AreTheReferencesExpertCounts(int ep, int tp, int pp)
    {
        var reference = Fixtures.Load(Fixtures.TinyMixtral);
        using var engine = (ParallelEngine)EngineCatalog.Open(Directory, EngineKind.Generic, new ParallelPlan(Expert: ep, Tensor: tp, Pipeline: pp));

        FeedAsTheReferenceDid(engine, reference);

        Assert.Equal(ReferenceExpertCounts().Select(c => (long)c), Flatten(engine.ExpertLoad));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 1)]
    [InlineData(2, 2)]
    public void EachDevice_HoldsOnlyItsExperts(int ep, int tp)
    {
        var facts = EngineCatalog.Facts(Directory);
        using var engine = (ParallelEngine)EngineCatalog.Open(Directory, EngineKind.Generic, new ParallelPlan(Expert: ep, Tensor: tp));

        long experts = facts.Layers * facts.LayerExpertWeightBytes;
        long dense = facts.Layers * (facts.LayerWeightBytes - facts.LayerExpertWeightBytes) + facts.EmbeddingWeightBytes + facts.HeadWeightBytes;
        foreach (var device in engine.Devices)
            // Its share of the experts (1/ep, each split tp ways), plus at most the dense weights.
            Assert.InRange(device.Memory.Weights, experts / ep / tp, experts / ep / tp + dense);
        Assert.Equal(ep * tp, engine.Devices.Count);
        long single = EngineCatalog.Open(Directory).WeightBytes; // one device holds every expert
        Assert.True(engine.Devices.Max(d => d.Memory.Weights) <= single - experts / 2, "a device holds more experts than its share");
    }

    [Fact]
    public void TokensReachExpertsOnOtherRanks_ThroughTheAllToAll()
    {
        var reference = Fixtures.Load(Fixtures.TinyMixtral);
        using var engine = (ParallelEngine)EngineCatalog.Open(Directory, EngineKind.Generic, new ParallelPlan(Expert: 2));

        engine.Forward(TokenBatch.ForSequences([engine.CreateCache(), engine.CreateCache()], [reference.Tokens, reference.Tokens[..7]]));

        // Both ranks run attention for one sequence each and send rows to the other's experts (and get results back).
        Assert.All(engine.BytesSentPerDevice, bytes => Assert.True(bytes > 0));
        Assert.Contains("expert all-to-all", engine.Report());
    }

    [Theory]
    [InlineData(2, 1, 1, 1)]
    [InlineData(4, 1, 1, 1)]
    [InlineData(2, 2, 1, 1)]
    [InlineData(2, 1, 3, 1)]
    [InlineData(2, 1, 1, 2)]
    public void GreedyGeneration_OfOneSequence_EqualsTheReference_WithIdleExpertRanks(int ep, int tp, int pp, int dp)
    {
        // One sequence: one expert rank runs its attention; the others only serve their experts (zero rows of their own).
        var reference = Fixtures.Load(Fixtures.TinyMixtral);
        using var engine = (ParallelEngine)EngineCatalog.Open(Directory, EngineKind.Generic, new ParallelPlan(Expert: ep, Tensor: tp, Pipeline: pp, Data: dp));

        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
    }

    [Fact]
    public void TheFoldedEp2Tp2Unit_ReproducesTheReference()
    {
        var reference = Fixtures.Load(Fixtures.TinyMixtral);
        using var engine = TinyMixtralEp2Tp2.Load(Directory);

        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));

        Assert.True(Fixtures.RelativeError(logits, reference.Logits) <= 1e-4);
        Assert.Equal(4, engine.Devices.Count);
        // rank = expert * 2 + tensor: rank 2 is expert rank 1's first tensor shard.
        Assert.Equal((1, 0), (engine.Ranks[2].ExpertRank, engine.Ranks[2].TensorRank));
    }

    [Theory]
    [InlineData(3, "ep = 3 does not divide the 4 experts of Mixtral; degrees that work: 1, 2, 4.")]
    [InlineData(0, "the expert-parallel degree must be at least 1 (ep = 0).")]
    public void AnExpertDegreeThatCannotSplitTheExperts_IsRefused(int ep, string message)
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Directory, EngineKind.Generic, new ParallelPlan(Expert: ep)));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void ExpertParallelism_OnADenseModel_IsRefused()
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Expert: 2)));
        Assert.Contains("ep = 2 but Llama has no experts", error.Message);
    }
}
