namespace Tessera.Models.Tests.Correctness;

/// <summary>Several sequences in one forward (rows flattened, one KV cache each) give each sequence's own logits.</summary>
public sealed class BatchingTests
{
    [Theory]
    [InlineData(Fixtures.TinyLlama)]
    [InlineData(Fixtures.TinyGpt2)]
    public void ABatchOfSequencesOfDifferentLengths_EqualsEachSequenceAlone(string fixture)
    {
        var reference = Fixtures.Load(fixture);
        var engine = EngineCatalog.Open(Fixtures.Directory(fixture));
        int[][] prompts = [reference.Tokens[..5], reference.Tokens[3..20], reference.Tokens[..1], reference.Tokens];

        var caches = prompts.Select(_ => engine.CreateCache()).ToArray();
        float[] batched = engine.Forward(TokenBatch.ForSequences(caches, prompts));
        // Then one decode step for all four together, at different positions.
        int[][] next = prompts.Select(p => new[] { p[0] }).ToArray();
        float[] step = engine.Forward(TokenBatch.ForSequences(caches, next));

        int row = 0;
        for (int s = 0; s < prompts.Length; s++)
        {
            var cache = engine.CreateCache();
            float[] alone = engine.Forward(TokenBatch.ForSequence(cache, prompts[s]));
            Assert.True(Fixtures.RelativeError(batched.AsSpan(row * reference.Vocab, alone.Length), alone) <= 1e-6, $"prefill of sequence {s}");
            row += prompts[s].Length;

            float[] aloneStep = engine.Forward(TokenBatch.ForSequence(cache, next[s]));
            Assert.True(Fixtures.RelativeError(step.AsSpan(s * reference.Vocab, reference.Vocab), aloneStep) <= 1e-6, $"decode of sequence {s}");
        }
    }

    [Fact]
    public void LastLogitsOnly_ReturnsTheLastRowOfEachSequence()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        int[][] prompts = [reference.Tokens[..7], reference.Tokens];

        float[] last = engine.Forward(TokenBatch.ForSequences(prompts.Select(_ => engine.CreateCache()).ToArray(), prompts, lastLogitsOnly: true));

        Assert.Equal(2 * reference.Vocab, last.Length);
        Assert.True(Fixtures.RelativeError(last.AsSpan(0, reference.Vocab), reference.Row(6)) <= 1e-4);
        Assert.True(Fixtures.RelativeError(last.AsSpan(reference.Vocab), reference.Row(23)) <= 1e-4);
    }

    [Fact]
    public void AForwardBeyondTheContext_IsRefused_AndTheCacheIsUntouched()
    {
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        var cache = engine.CreateCache();
        engine.Forward(TokenBatch.ForSequence(cache, new int[60]));

        Assert.Throws<ContextOverflowException>(() => TokenBatch.ForSequence(cache, new int[5]));
        Assert.Equal(60, cache.Length);
    }

    [Fact]
    public void ATokenOutsideTheVocabulary_IsRefusedBeforeAnyKernelRuns()
    {
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyGpt2));
        var cache = engine.CreateCache();

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => engine.Forward(TokenBatch.ForSequence(cache, [1, 384])));
        Assert.Contains("vocabulary", error.Message);
        Assert.Equal(0, cache.Length);
    }
}
