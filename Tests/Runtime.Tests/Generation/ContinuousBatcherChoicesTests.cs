using Tessera.Generation;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>
/// Several choices of one prompt (OpenAI's n): the prompt runs once and the other choices start from a copy of its
/// cache; each choice samples with its own stream; log-probabilities of the output and of the prompt are reported.
/// </summary>
public sealed class ContinuousBatcherChoicesTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static readonly int[] Prompt = [5, 9, 2, 7, 1, 3, 8];

    private static SamplingOptions Tokens(int count) => new() { MaxTokens = count, StopTokens = [] };

    private static async Task<GenerationOutput[]> Outputs(IEnumerable<GenerationStream> streams) =>
        await Task.WhenAll(streams.Select(s => s.Completion)).WaitAsync(Timeout);

    /// <summary>Rows the engine ran, all forwards together.</summary>
    private static int RowsRun(ToyEngine engine) => engine.Batches.Sum(rows => rows.Sum());

    [Fact]
    public async Task GreedyChoices_AreIdentical_AndThePromptRanOnce()
    {
        var engine = new ToyEngine();
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 4);

        var streams = batcher.SubmitChoices(Prompt, Tokens(4), 3);
        var outputs = await Outputs(streams);

        Assert.Equal([0, 1, 2], streams.Select(s => s.Choice));
        Assert.Equal([0, 1, 2], outputs.Select(o => o.Choice));
        Assert.All(outputs, o => Assert.Equal(engine.Expected(Prompt, 4), o.Tokens));
        // The prompt once, then three decode rows per choice (its last token is never fed back).
        Assert.Equal(Prompt.Length + 3 * 3, RowsRun(engine));
        Assert.Equal(2, engine.CacheCopies);
    }

    [Fact]
    public async Task AnEngineThatCannotCopyItsCaches_RunsThePromptForEachChoice_WithTheSameOutputs()
    {
        var engine = new ToyEngine { CanCopyCaches = false };
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 4);

        var outputs = await Outputs(batcher.SubmitChoices(Prompt, Tokens(4), 3));

        Assert.All(outputs, o => Assert.Equal(engine.Expected(Prompt, 4), o.Tokens));
        Assert.Equal(3 * Prompt.Length + 3 * 3, RowsRun(engine));
    }

    [Fact]
    public async Task MoreChoicesThanSlots_StillAllFinish_TheLateOnesRunningThePromptThemselves()
    {
        var engine = new ToyEngine();
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 1);

        var outputs = await Outputs(batcher.SubmitChoices(Prompt, Tokens(3), 3));

        Assert.All(outputs, o => Assert.Equal(engine.Expected(Prompt, 3), o.Tokens));
    }

    [Fact]
    public async Task SeededChoices_EachDrawFromTheirOwnStream_ReproduciblyAndChoiceZeroAsARequestAlone()
    {
        var engine = new ToyEngine();
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 4);
        var options = new SamplingOptions { MaxTokens = 12, StopTokens = [], Temperature = 1.5f, Seed = 99 };

        var first = await Outputs(batcher.SubmitChoices(Prompt, options, 3));
        var again = await Outputs(batcher.SubmitChoices(Prompt, options, 3));
        var alone = await batcher.Submit(Prompt, options).Completion.WaitAsync(Timeout);

        Assert.Equal(first.Select(o => o.Tokens), again.Select(o => o.Tokens));
        Assert.Equal(alone.Tokens, first[0].Tokens);
        Assert.NotEqual(first[0].Tokens, first[1].Tokens);
        Assert.NotEqual(first[1].Tokens, first[2].Tokens);
    }

    [Fact]
    public async Task Logprobs_OfTheOutputAndOfThePromptAcrossPrefillChunks_AreTheLogSoftmaxOfTheModelsRows()
    {
        var engine = new ToyEngine();
        // Chunks of 3 prompt tokens: the prompt's rows come from three forwards.
        await using var batcher = new ContinuousBatcher(engine, null, new BatcherLimits { MaxInFlight = 4, PrefillChunkTokens = 3 });
        var options = Tokens(4) with { Logprobs = 2, PromptLogprobs = 1 };

        var outputs = await Outputs(batcher.SubmitChoices(Prompt, options, 2));

        foreach (var output in outputs)
        {
            var prompt = output.PromptLogprobs!;
            Assert.Equal(Prompt.Length, prompt.Count);
            Assert.Null(prompt[0]);
            for (int t = 1; t < Prompt.Length; t++)
            {
                var expected = TokenLogprob.Of(ToyRow(engine, Prompt[..t]), Prompt[t], 1);
                Assert.Equal(expected.Id, prompt[t]!.Id);
                Assert.Equal(expected.Logprob, prompt[t]!.Logprob, 12);
                Assert.Equal(expected.Top, prompt[t]!.Top);
            }
            var history = Prompt.ToList();
            for (int i = 0; i < output.Tokens.Length; i++)
            {
                var expected = TokenLogprob.Of(ToyRow(engine, history), output.Tokens[i], 2);
                Assert.Equal(expected.Logprob, output.Logprobs![i].Logprob, 12);
                Assert.Equal(expected.Top, output.Logprobs[i].Top);
                Assert.Equal(output.Tokens[i], expected.Top[0].Id); // greedy takes the most likely
                history.Add(output.Tokens[i]);
            }
            Assert.Equal(output.Logprobs!.Sum(l => l.Logprob), output.CumulativeLogprob, 12);
        }
        Assert.Equal(Prompt.Length + 2 * 3, RowsRun(engine));
    }

    [Fact]
    public async Task WithoutLogprobs_NoneAreComputed()
    {
        await using var batcher = new ContinuousBatcher(new ToyEngine());
        var output = await batcher.Submit(Prompt, Tokens(2)).Completion.WaitAsync(Timeout);

        Assert.Null(output.Logprobs);
        Assert.Null(output.PromptLogprobs);
    }

    [Fact]
    public void ALogitBiasOutsideTheVocabulary_IsRefused()
    {
        using var batcher = new ContinuousBatcher(new ToyEngine(vocab: 300));

        Assert.Throws<ArgumentOutOfRangeException>(() => batcher.Submit(Prompt, Tokens(2) with { LogitBias = new Dictionary<int, float> { [300] = 1 } }));
    }

    /// <summary>The toy engine's logits after these tokens.</summary>
    private static float[] ToyRow(ToyEngine engine, IReadOnlyList<int> tokens)
    {
        int next = engine.Next(tokens);
        return Enumerable.Range(0, engine.Shape.VocabSize).Select(v => -0.5f * Math.Abs(v - next)).ToArray();
    }
}
