using Tessera.Generation;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Generation;

/// <summary>
/// Continuous batching changes nothing under greedy decoding: on the bundled models, on one device and under pipeline,
/// data and expert parallelism, every request of a queue longer than the slots gets exactly the tokens it gets alone.
/// </summary>
public sealed class BatchedGreedyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2 })
            foreach (var plan in new[] { "single", "pp2-m2", "dp2" })
                data.Add(fixture, plan);
        // Sequences come and go across expert ranks: each must return to the rank that holds its keys and values.
        foreach (var plan in new[] { "single", "ep2", "ep2-pp2-m2", "sp2" })
            data.Add(Fixtures.TinyMixtral, plan);
        // Sequences joining and leaving while each one's cache is spread over the sequence ranks.
        data.Add(Fixtures.TinyLlama, "sp2");
        data.Add(Fixtures.TinyGpt2, "sp3-pp2-m2");
        return data;
    }

    private static ParallelPlan? PlanNamed(string name) => name switch
    {
        "single" => null,
        "pp2-m2" => new ParallelPlan(Pipeline: 2, MicroBatches: 2),
        "dp2" => new ParallelPlan(Data: 2),
        "ep2" => new ParallelPlan(Expert: 2),
        "sp2" => new ParallelPlan(Sequence: 2),
        "sp3-pp2-m2" => new ParallelPlan(Sequence: 3, Pipeline: 2, MicroBatches: 2),
        "ep2-pp2-m2" => new ParallelPlan(Expert: 2, Pipeline: 2, MicroBatches: 2),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public Task AQueueLongerThanTheSlots_GivesEveryRequestItsOwnGreedyContinuation(string fixture, string planName) =>
        RunQueue(fixture, planName, new BatcherLimits { MaxInFlight = 4 });

    /// <summary>
    /// Prompts prefilled 5 tokens a step over all sequences (chunks that start mid-prompt, on caches already holding
    /// part of it, beside other sequences' decode rows): the same tokens as whole prefills.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public Task ChunkedPrefill_GivesEveryRequestTheSameGreedyContinuation(string fixture, string planName) =>
        RunQueue(fixture, planName, new BatcherLimits { MaxInFlight = 4, PrefillChunkTokens = 5 });

    private static async Task RunQueue(string fixture, string planName, BatcherLimits limits)
    {
        var reference = Fixtures.Load(fixture);
        // Prompts of 1 to 24 tokens, max tokens 3 to 15: sequences finish at different steps, so slots free unevenly.
        int[][] prompts = [reference.Tokens[..1], reference.Tokens[..5], reference.Tokens[3..20], reference.Tokens, reference.Tokens[7..9],
                           reference.Tokens[..12], reference.Tokens[10..], reference.Tokens[..3], reference.Tokens[5..6]];
        int[] lengths = prompts.Select((_, i) => 3 + 3 * i % 13).ToArray();
        var single = EngineCatalog.Open(Fixtures.Directory(fixture));
        var expected = prompts.Select((p, i) => GreedyDecoder.Generate(single, p, lengths[i]).Tokens).ToArray();

        var engine = EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, PlanNamed(planName));
        try
        {
            await using var batcher = new ContinuousBatcher(engine, null, limits);
            var requests = prompts.Select((p, i) => batcher.Submit(p, new SamplingOptions { MaxTokens = lengths[i], StopTokens = [] })).ToArray();
            var outputs = await Task.WhenAll(requests.Select(r => r.Completion)).WaitAsync(Timeout);

            for (int i = 0; i < prompts.Length; i++)
                Assert.True(expected[i].SequenceEqual(outputs[i].Tokens),
                    $"request {i} (prompt of {prompts[i].Length}): expected {string.Join(",", expected[i])}, got {string.Join(",", outputs[i].Tokens)}");
            Assert.Equal(prompts.Length, batcher.Metrics.Requests);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public async Task TheReferenceGreedyContinuation_ComesOutOfTheBatcher_WithOtherRequestsAround()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 3);

        var others = Enumerable.Range(1, 4).Select(n => batcher.Submit(reference.Tokens[..n], new SamplingOptions { MaxTokens = 20, StopTokens = [] })).ToArray();
        var output = await batcher.Submit(reference.Tokens, new SamplingOptions { MaxTokens = reference.Greedy.Length, StopTokens = [] }).Completion.WaitAsync(Timeout);
        await Task.WhenAll(others.Select(o => o.Completion)).WaitAsync(Timeout);

        Assert.Equal(reference.Greedy, output.Tokens);
    }

    [Fact]
    public async Task UnderDataParallelism_MemoryIsReportedPerDevice()
    {
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyGpt2), EngineKind.Generic, new ParallelPlan(Data: 2));
        await using var batcher = new ContinuousBatcher(engine, maxInFlight: 4);

        await Task.WhenAll(Enumerable.Range(1, 4).Select(n => batcher.Submit([n, n + 1], new SamplingOptions { MaxTokens = 2 }).Completion)).WaitAsync(Timeout);
        var memory = batcher.Metrics.Memory;

        Assert.Equal(["cpu:0", "cpu:1"], memory.Select(m => m.Device));
        Assert.All(memory, m => Assert.True(m.Weights > 0 && m.KvCache > 0, m.ToString()));
    }
}
