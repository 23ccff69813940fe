using Tessera.Models.Tests.Cli;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tessera.Parallelism;
using Tessera.Text;

namespace Tessera.Models.Tests.Mpi;

/// <summary>
/// Every plan run as one process per rank under mpirun gives the logits of the same plan run in one process, bit for
/// bit (same rank programs, same schedule, collectives summing in the same order), and so the single device's.
/// Each job runs a batch of two prompts, so that replicas, micro-batches and expert ranks all get work.
/// </summary>
[Collection(MpiCollection.Name)]
public sealed class MultiProcessPlanTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    public static TheoryData<string, string> Plans => new()
    {
        { Fixtures.TinyLlama, "--dp 2" },
        { Fixtures.TinyLlama, "--pp 2 -m 2" },
        { Fixtures.TinyLlama, "--tp 2" },
        { Fixtures.TinyLlama, "--sp 2" },
        { Fixtures.TinyLlama, "--tp 2 --pp 2" },
        { Fixtures.TinyLlama, "--dp 2 --tp 2 --pp 2 -m 2" },
        { Fixtures.TinyGpt2, "--dp 2" },
        { Fixtures.TinyGpt2, "--pp 2" },
        { Fixtures.TinyGpt2, "--tp 2" },
        { Fixtures.TinyGpt2, "--dp 2 --tp 2" },
        { Fixtures.TinyMixtral, "--ep 2" },
        { Fixtures.TinyMixtral, "--ep 2 --tp 2" },
        { Fixtures.TinyMixtral, "--pp 2 --sp 2" },
        // The families: per-layer windows and caps (Gemma 2), fused projections (Phi-3), a shared expert beside routed ones.
        { Fixtures.TinyGemma2, "--tp 2 --pp 2" },
        { Fixtures.TinyPhi3, "--sp 2" },
        { Fixtures.TinyQwen2Moe, "--ep 2 --tp 2" },
    };

    [MpiTheory]
    [MemberData(nameof(Plans))]
    public void Logits_of_a_plan_across_processes_equal_the_plan_in_one_process_and_one_device(string fixture, string planFlags)
    {
        string directory = Fixtures.Directory(fixture);
        var reference = Fixtures.Load(fixture);
        int[][] prompts = [reference.Tokens, reference.Tokens[..9].Reverse().ToArray()];
        var plan = Parse(planFlags);
        using var scratch = new ScratchCheckpoint(fixture);

        var result = Mpirun.Run(plan.DeviceCount, Bound,
            ["logits", "-c", directory, .. prompts.SelectMany(p => new[] { "-t", TesseraCli.Ids(p) }), .. planFlags.Split(' '), "-o", scratch.OutPath]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"wrote logits [{prompts.Sum(p => p.Length)}, {reference.Vocab}] to {scratch.OutPath}", result.Out.Trim().Split(" (")[0]);
        var logits = SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats();
        Assert.Equal(Forward(directory, plan, prompts), logits);
        Assert.True(Fixtures.RelativeError(logits, Forward(directory, null, prompts)) <= 1e-4);
    }

    [MpiFact]
    public void Greedy_generation_across_processes_continues_the_prompt_as_the_reference_does()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);

        var result = Mpirun.Run(4, Bound, "generate", "-c", Fixtures.Directory(Fixtures.TinyLlama), "--tokens", TesseraCli.Ids(reference.Tokens),
            "--max-new-tokens", reference.Greedy.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), "--tp", "2", "--pp", "2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(TesseraCli.Ids(reference.Greedy), result.Out.Trim());
        Assert.Contains("pp2 x tp2 (4 devices)", result.Error);
    }

    [MpiFact]
    public async Task A_server_across_processes_batches_concurrent_requests_and_answers_each_as_one_device_would()
    {
        string directory = Fixtures.Directory(Fixtures.TinyLlama);
        int[][] prompts = [[1, 2, 3], [9, 8, 7, 6, 5, 4], [42], [100, 200, 300, 400]];
        const int maxTokens = 12;
        using var job = Mpirun.Start(4, ["serve", "-c", directory, "--dp", "2", "--pp", "2", "-m", "2", "--port", "0"]);
        string line = job.WaitForError("serving ", Bound);
        using var client = new HttpClient { BaseAddress = new Uri(line[(line.IndexOf(" at http", StringComparison.Ordinal) + 4)..].Split(' ')[0]), Timeout = Bound };

        var answers = await Task.WhenAll(prompts.Select(async prompt =>
        {
            using var response = await client.PostAsync("/v1/completions", JsonContent.Create(
                new JsonObject { ["prompt"] = new JsonArray(prompt.Select(id => (JsonNode)id).ToArray()), ["max_tokens"] = maxTokens, ["temperature"] = 0 }));
            string text = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, text);
            return JsonNode.Parse(text)!["choices"]![0]!["token_ids"]!.AsArray().Select(id => (int)id!).ToArray();
        }));

        var tokenizer = Tokenizers.Load(directory);
        var single = EngineCatalog.Open(directory);
        for (int i = 0; i < prompts.Length; i++)
        {
            var ids = GreedyDecoder.Generate(single, prompts[i], maxTokens).Tokens;
            int stop = Array.FindIndex(ids, id => tokenizer.EndOfSequence.Contains(id));
            Assert.Equal(stop >= 0 ? ids[..(stop + 1)] : ids, answers[i]);
        }
    }

    private static float[] Forward(string directory, ParallelPlan? plan, int[][] prompts)
    {
        var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan);
        try
        {
            return engine.Forward(TokenBatch.ForSequences(prompts.Select(_ => engine.CreateCache()).ToArray(), prompts));
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    private static ParallelPlan Parse(string flags)
    {
        var plan = new ParallelPlan();
        var words = flags.Split(' ');
        for (int i = 0; i < words.Length; i += 2)
        {
            int value = int.Parse(words[i + 1], System.Globalization.CultureInfo.InvariantCulture);
            plan = words[i] switch
            {
                "--dp" => plan with { Data = value },
                "--pp" => plan with { Pipeline = value },
                "--tp" => plan with { Tensor = value },
                "--sp" => plan with { Sequence = value },
                "--ep" => plan with { Expert = value },
                "-m" => plan with { MicroBatches = value },
                _ => throw new ArgumentException(words[i]),
            };
        }
        return plan;
    }
}
