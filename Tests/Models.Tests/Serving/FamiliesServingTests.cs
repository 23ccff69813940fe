using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Parallelism;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// <c>serve</c> for every family: concurrent completions, batched by one batcher, each get what offline greedy
/// decoding of their prompt alone gives. Batching is where the families' per-sequence state meets: each sequence of a
/// step sits at its own position, so a sliding window, a local/global layer pattern and a RoPE scaling are applied per
/// sequence, past the window (the prompts and replies run past tiny-mistral's and the Gemmas' 8-token windows).
/// </summary>
public sealed class FamiliesServingTests
{
    private static readonly string[] Prompts = ["Once upon a time", "Hi", "The quick brown fox jumps"];

    public static TheoryData<string, string> FamiliesAndPlans()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in Fixtures.Families) data.Add(fixture, "one device");
        data.Add(Fixtures.TinyGemma3, "tp2-pp2");
        data.Add(Fixtures.TinyQwen3Moe, "ep2");
        return data;
    }

    [Theory]
    [MemberData(nameof(FamiliesAndPlans))]
    public async Task ConcurrentCompletions_OfEachFamily_EachMatchTheOfflineGreedyOutput(string fixture, string plan)
    {
        string directory = Fixtures.Directory(fixture);
        var reference = EngineCatalog.Open(directory);
        // Every id the model has (the batcher masks ids a tokenizer lacks; the offline reference does not).
        var tokenizer = new ByteTokenizer(reference.Shape.VocabSize);
        // The first step waits until every request of the burst is in, so that they are batched even on a loaded machine.
        ContinuousBatcher? batcher = null;
        var engine = HookedEngine.GatheringBursts(EngineCatalog.Open(directory, plan: PlanOf(plan)),
            () => batcher is { Metrics: var m } && m.Running + m.Waiting >= Prompts.Length);
        batcher = new ContinuousBatcher(engine, tokenizer, maxInFlight: Prompts.Length);
        var server = await CompletionServer.StartAsync(batcher, tokenizer, fixture, "127.0.0.1", port: 0);
        var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            var replies = await Task.WhenAll(Prompts.Select((prompt, i) => client.PostAsJsonAsync("/v1/completions",
                new JsonObject { ["prompt"] = prompt, ["max_tokens"] = 10 + 4 * i, ["temperature"] = 0 })));

            for (int i = 0; i < Prompts.Length; i++)
            {
                string body = await replies[i].Content.ReadAsStringAsync();
                Assert.True(replies[i].IsSuccessStatusCode, $"{fixture} {plan}: {(int)replies[i].StatusCode} {body}");
                int[] expected = GreedyDecoder.Generate(reference, tokenizer.Encode(Prompts[i]), 10 + 4 * i).Tokens;
                int stop = Array.FindIndex(expected, id => tokenizer.EndOfSequence.Contains(id));
                if (stop >= 0) expected = expected[..(stop + 1)];
                var actual = JsonNode.Parse(body)!["choices"]![0]!["token_ids"]!.AsArray().Select(id => (int)id!).ToArray();
                Assert.True(expected.SequenceEqual(actual), $"{fixture} {plan}, \"{Prompts[i]}\": [{string.Join(",", actual)}], offline [{string.Join(",", expected)}]");
            }
            Assert.True(batcher.Metrics.Steps < batcher.Metrics.CompletionTokens, "requests were not batched together");
        }
        finally
        {
            client.Dispose();
            await server.DisposeAsync();
            await batcher.ShutdownAsync();
        }
    }

    private static ParallelPlan? PlanOf(string plan) => plan switch
    {
        "one device" => null,
        "tp2-pp2" => new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2),
        "ep2" => new ParallelPlan(Expert: 2),
        _ => throw new ArgumentException(plan),
    };
}
