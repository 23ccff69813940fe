using Tessera.Parallelism;

namespace Tessera.Models.Tests.Parallel;

/// <summary>
/// Sequence parallelism on the bundled models: the reference continuation through every sp plan, a prompt shorter than
/// sp, and each device keeping about 1/sp of a sequence's keys and values.
/// </summary>
public sealed class SequenceParallelismTests
{
    public static TheoryData<string, int, int, int> GreedyCases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2, Fixtures.TinyMixtral })
        {
            data.Add(fixture, 2, 1, 1);
            data.Add(fixture, 3, 1, 1);
            data.Add(fixture, 2, 2, 1);
            data.Add(fixture, 2, 1, 2);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(GreedyCases))]
    public void GreedyGeneration_UnderSequenceParallelism_EqualsTheReference(string fixture, int sp, int tp, int pp)
    {
        var reference = Fixtures.Load(fixture);
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, new ParallelPlan(Sequence: sp, Tensor: tp, Pipeline: pp));

        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
    }

    [Fact]
    public void APromptShorterThanSp_LeavesRanksWithoutTokens_AndStillGivesTheSingleDeviceLogits()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var single = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Sequence: 4));
        var a = single.CreateCache();
        var b = engine.CreateCache();

        foreach (var tokens in new[] { reference.Tokens[..2], reference.Tokens[2..3], reference.Tokens[3..10] })
        {
            float[] expected = single.Forward(TokenBatch.ForSequence(a, tokens));
            float[] actual = engine.Forward(TokenBatch.ForSequence(b, tokens));
            Assert.True(Fixtures.RelativeError(actual, expected) <= 1e-4);
        }
        Assert.Equal(10, b.Length);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void EachDevice_KeepsAboutOneSpthOfTheKvCache(int sp)
    {
        // A 60-token sequence in a 64-token context: one device holds the whole context's cache; each of sp ranks
        // holds its share of the positions, grown by use (at most a quarter of its share beyond what it holds).
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var facts = EngineCatalog.Facts(Fixtures.Directory(Fixtures.TinyLlama));
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Sequence: sp));
        int[] prompt = [.. reference.Tokens, .. reference.Tokens, .. reference.Tokens[..12]];

        var cache = engine.CreateCache();
        engine.Forward(TokenBatch.ForSequence(cache, prompt, lastLogitsOnly: true));

        long whole = facts.KvBytesPerTokenPerLayer * facts.ContextLength * facts.Layers;
        foreach (var device in engine.Devices)
            Assert.InRange(device.Memory.KvCache, whole / sp / 2, whole / sp + whole / sp / 4 + 1);
        Assert.Contains("sequence attention", engine.Report());
    }

    [Fact]
    public void TheFoldedSp2Tp2Unit_ReproducesTheReference()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        using var engine = TinyLlamaSp2Tp2.Load(Fixtures.Directory(Fixtures.TinyLlama));

        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));

        Assert.True(Fixtures.RelativeError(logits, reference.Logits) <= 1e-4);
        Assert.Equal(2, engine.Plan.Sequence);
        Assert.Equal(4, engine.Devices.Count);
    }

    [Fact]
    public void ASequenceDegreeBelowOne_IsRefused()
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Sequence: 0)));
        Assert.Contains("the sequence-parallel degree must be at least 1 (sp = 0)", error.Message);
    }
}
