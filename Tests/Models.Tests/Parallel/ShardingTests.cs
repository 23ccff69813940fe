using Tessera.Parallelism;

namespace Tessera.Models.Tests.Parallel;

/// <summary>Each device holds only its share: 1/tp of every sharded layer weight, and only its stage's layers.</summary>
public sealed class ShardingTests
{
    [Theory]
    [InlineData(Fixtures.TinyLlama, 2)]
    [InlineData(Fixtures.TinyLlama, 4)]
    [InlineData(Fixtures.TinyGpt2, 2)]
    [InlineData(Fixtures.TinyGpt2, 4)]
    public void UnderTensorParallelism_EachDeviceHoldsAboutOneTpthOfTheWeights(string fixture, int tp)
    {
        var facts = EngineCatalog.Facts(Fixtures.Directory(fixture));
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, new ParallelPlan(Tensor: tp));

        long layers = facts.Layers * facts.LayerWeightBytes;
        foreach (var device in engine.Devices)
        {
            // Norms and biases of row-parallel products and the embedding stay whole: the layer share is 1/tp up to them
            // (and the 4 KV heads of tiny-llama are split 4 ways at most: replicated past that).
            long weights = device.Memory.Weights;
            Assert.InRange(weights, layers / tp, layers / tp + facts.EmbeddingWeightBytes + facts.HeadWeightBytes / tp + layers / 10);
        }
        Assert.Equal(tp, engine.Devices.Count);
    }

    [Fact]
    public void UnderPipelineParallelism_EachStageLoadsOnlyItsLayers()
    {
        var facts = EngineCatalog.Facts(Fixtures.Directory(Fixtures.TinyLlama));
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic,
            new ParallelPlan(Pipeline: 2, LayersPerStage: [3, 1]));

        Assert.Equal(3 * facts.LayerWeightBytes + facts.EmbeddingWeightBytes, engine.Devices[0].Memory.Weights);
        Assert.Equal(1 * facts.LayerWeightBytes + facts.HeadWeightBytes, engine.Devices[1].Memory.Weights);
    }

    [Fact]
    public void TheFactsOfTheGeneratedEngines_DescribeTheFixtures()
    {
        var llama = EngineCatalog.Facts(Fixtures.Directory(Fixtures.TinyLlama));
        Assert.Equal(4, llama.Layers);
        // q, k, v, o, gate, up, down: 64*64 + 32*64 + 32*64 + 64*64 + 3 * 176*64 multiply-adds per token.
        Assert.Equal(2.0 * (4096 + 2048 + 2048 + 4096 + 3 * 11264), llama.LayerFlopsPerToken);
        Assert.Equal(2L * 4 * 32, llama.KvBytesPerTokenPerLayer);
        // The degree must divide the query heads and the MLP; the KV heads it may divide or be a multiple of (replicated
        // past them); the vocabulary it need not divide at all (the head is padded).
        Assert.Equal(["Heads", "Heads * HeadDim", "Intermediate"], llama.TensorSplits.Select(s => s.What).Order(StringComparer.Ordinal).ToArray());
        Assert.Equal([("KvHeads", 4)], llama.Replicable);
    }

    [Fact]
    public void APlanWhoseTensorDegreeDoesNotDivideTheHeads_IsRefusedWithTheDegreesThatWork()
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Tensor: 3)));
        Assert.Contains("degrees that work: 1, 2, 4", error.Message);
    }

    [Fact]
    public void MoreStagesThanLayers_IsRefused()
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyGpt2), EngineKind.Generic, new ParallelPlan(Pipeline: 4)));
        Assert.Contains("3 layers", error.Message);
    }
}
