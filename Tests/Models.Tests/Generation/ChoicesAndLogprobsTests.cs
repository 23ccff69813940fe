using Tessera.Generation;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Generation;

/// <summary>
/// Several choices of one prompt and prompt log-probabilities on real engines: on one device the choices share the
/// prompt's prefill through a copied cache; a parallel engine's caches are handles, so each choice runs the prompt; in
/// both every greedy choice is the reference continuation, and the prompt's log-probabilities (every prompt row's
/// logits, over chunked prefill) are those of the model run alone.
/// </summary>
public sealed class ChoicesAndLogprobsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Plans() => ["single", "pp2-m2", "sp2"];

    private static ParallelPlan? PlanNamed(string name) => name switch
    {
        "single" => null,
        "pp2-m2" => new ParallelPlan(Pipeline: 2, MicroBatches: 2),
        "sp2" => new ParallelPlan(Sequence: 2),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Plans))]
    public async Task GreedyChoices_AreEachTheReferenceContinuation_AndPromptLogprobsAreTheModelsAlone(string plan)
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        int[] prompt = reference.Tokens[..12];
        var single = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        int[] expected = GreedyDecoder.Generate(single, prompt, 6).Tokens;
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, PlanNamed(plan));
        var counted = new Serving.HookedEngine(engine);
        int rows = 0;
        counted.OnForward = batch => rows += batch.Rows;
        try
        {
            // Prompts prefilled 5 tokens a step, beside another request's rows.
            await using var batcher = new ContinuousBatcher(counted, null, new BatcherLimits { MaxInFlight = 4, PrefillChunkTokens = 5 });
            var other = batcher.Submit(reference.Tokens[..3], new SamplingOptions { MaxTokens = 8, StopTokens = [] });
            var choices = batcher.SubmitChoices(prompt, new SamplingOptions { MaxTokens = 6, StopTokens = [], PromptLogprobs = 2, Logprobs = 1 }, 3);
            var outputs = await Task.WhenAll(choices.Select(c => c.Completion)).WaitAsync(Timeout);
            await other.Completion.WaitAsync(Timeout);

            foreach (var output in outputs)
            {
                Assert.Equal(expected, output.Tokens);
                Assert.Null(output.PromptLogprobs![0]);
                for (int t = 1; t < prompt.Length; t++)
                {
                    float[] row = single.Forward(TokenBatch.ForSequence(single.CreateCache(), prompt[..t], lastLogitsOnly: true));
                    Assert.Equal(TokenLogprob.Of(row, prompt[t], 2).Logprob, output.PromptLogprobs[t]!.Logprob, 3);
                }
                Assert.Equal(6, output.Logprobs!.Count);
            }
            // The other request's 3 + 7 rows, then 5 decode rows per choice; and the prompt once on one device, whose
            // caches copy, or once per choice on a parallel engine, whose caches are handles on its devices.
            Assert.Equal(3 + 7 + 3 * 5 + (plan == "single" ? 1 : 3) * prompt.Length, rows);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }
}
