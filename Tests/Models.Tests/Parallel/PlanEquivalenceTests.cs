using Tessera.Parallelism;

namespace Tessera.Models.Tests.Parallel;

/// <summary>
/// Every parallel plan reproduces the single-device logits of the generated engines, on a batch of several sequences
/// of different lengths: the prefill, then decode steps through the rank-local KV caches.
/// </summary>
public sealed class PlanEquivalenceTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, string> Plans()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2 })
            foreach (var plan in new[] { "dp2", "mp2", "pp2-m4", "pp3-uneven", "tp2", "tp4", "tp2-pp2", "dp2-tp2-pp2" })
                data.Add(fixture, plan);
        // Sequence parallelism on every fixture: the 5 prompts (3 to 24 tokens) include ones shorter than sp (ranks with
        // no token of a sequence) and lengths sp does not divide.
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2, Fixtures.TinyMixtral })
            foreach (var plan in new[] { "sp2", "sp3", "sp4", "sp2-tp2", "sp2-pp2", "dp2-sp2" })
                data.Add(fixture, plan);
        data.Add(Fixtures.TinyMixtral, "sp2-ep2");
        // The mixture of experts: expert parallelism alone and in hybrids, and the dense strategies on a sparse model.
        foreach (var plan in new[] { "ep2", "ep4", "ep2-tp2", "ep2-pp3", "ep2-dp2", "ep2-pp3-m3", "tp2", "pp3", "dp2-ep2-tp2" })
            data.Add(Fixtures.TinyMixtral, plan);
        // Every other family: the strategies and a hybrid; tp4 runs past the key/value heads of those with fewer (their
        // heads replicated); the mixtures of experts also split their experts.
        foreach (var fixture in Fixtures.Families)
        {
            foreach (var plan in new[] { "dp2", "pp2-m4", "tp2", "tp4", "sp2", "tp2-pp2", "sp2-tp2" })
                data.Add(fixture, plan);
            if (Fixtures.MixturesOfExperts.Contains(fixture))
                foreach (var plan in new[] { "ep2", "ep4", "ep2-tp2", "sp2-ep2" })
                    data.Add(fixture, plan);
        }
        return data;
    }

    internal static ParallelPlan PlanNamed(string name, string fixture) => name switch
    {
        "dp2" => new ParallelPlan(Data: 2),
        "mp2" => new ParallelPlan(Pipeline: 2, MicroBatches: 1),                      // layer-wise model parallelism
        "pp2-m4" => new ParallelPlan(Pipeline: 2, MicroBatches: 4),
        // tiny-llama has 4 layers: split 2, 1, 1 by hand; tiny-gpt2 has 3, so 3 stages hold one each.
        "pp3-uneven" => new ParallelPlan(Pipeline: 3, MicroBatches: 3, LayersPerStage: fixture == Fixtures.TinyLlama ? [2, 1, 1] : null),
        "tp2" => new ParallelPlan(Tensor: 2),
        "tp4" => new ParallelPlan(Tensor: 4),
        "tp2-pp2" => new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2),
        "dp2-tp2-pp2" => new ParallelPlan(Data: 2, Tensor: 2, Pipeline: 2, MicroBatches: 2),
        "sp2" => new ParallelPlan(Sequence: 2),
        "sp3" => new ParallelPlan(Sequence: 3),
        "sp4" => new ParallelPlan(Sequence: 4),
        "sp2-tp2" => new ParallelPlan(Sequence: 2, Tensor: 2),
        "sp2-pp2" => new ParallelPlan(Sequence: 2, Pipeline: 2, MicroBatches: 2),
        "dp2-sp2" => new ParallelPlan(Data: 2, Sequence: 2),
        "sp2-ep2" => new ParallelPlan(Sequence: 2, Expert: 2),
        "ep2" => new ParallelPlan(Expert: 2),
        "ep4" => new ParallelPlan(Expert: 4),
        "ep2-tp2" => new ParallelPlan(Expert: 2, Tensor: 2),
        "ep2-pp3" => new ParallelPlan(Expert: 2, Pipeline: 3),
        "ep2-pp3-m3" => new ParallelPlan(Expert: 2, Pipeline: 3, MicroBatches: 3),
        "ep2-dp2" => new ParallelPlan(Expert: 2, Data: 2),
        "pp3" => new ParallelPlan(Pipeline: 3, MicroBatches: 2),
        "dp2-ep2-tp2" => new ParallelPlan(Data: 2, Expert: 2, Tensor: 2),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Plans))]
    public void ThePlan_ReproducesTheSingleDeviceLogits_InPrefillAndDecode(string fixture, string planName)
    {
        var reference = Fixtures.Load(fixture);
        string directory = Fixtures.Directory(fixture);
        var single = EngineCatalog.Open(directory);
        using var parallel = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, PlanNamed(planName, fixture));

        int[][] prompts = [reference.Tokens[..9], reference.Tokens[2..21], reference.Tokens[..3], reference.Tokens[5..17], reference.Tokens];
        var singleCaches = prompts.Select(_ => single.CreateCache()).ToArray();
        var parallelCaches = prompts.Select(_ => parallel.CreateCache()).ToArray();

        AssertSame(single.Forward(TokenBatch.ForSequences(singleCaches, prompts)),
                   parallel.Forward(TokenBatch.ForSequences(parallelCaches, prompts)), "prefill");
        for (int step = 0; step < 3; step++)
        {
            int[][] next = prompts.Select((p, s) => new[] { reference.Greedy[(s + step) % reference.Greedy.Length] }).ToArray();
            AssertSame(single.Forward(TokenBatch.ForSequences(singleCaches, next, lastLogitsOnly: true)),
                       parallel.Forward(TokenBatch.ForSequences(parallelCaches, next, lastLogitsOnly: true)), $"decode step {step}");
        }
        Assert.All(parallelCaches.Zip(singleCaches), p => Assert.Equal(p.Second.Length, p.First.Length));
    }

    [Fact]
    public void TheFoldedTp2Pp2Unit_ReproducesTheReference()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        using var engine = TinyLlamaTp2Pp2.Load(Fixtures.Directory(Fixtures.TinyLlama));

        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));

        Assert.True(Fixtures.RelativeError(logits, reference.Logits) <= Tolerance);
        Assert.Equal([2, 2], engine.LayerSplit);
        Assert.Equal(4, engine.Devices.Count);
    }

    [Fact]
    public void TheFoldedSchedule_IsGPipes_AndDrivesTheUnitsRun()
    {
        var runtime = new PipelineSchedule(TinyLlamaTp2Pp2.Plan.Pipeline, TinyLlamaTp2Pp2.Plan.MicroBatches);
        for (int stage = 0; stage < runtime.Stages; stage++)
            for (int clock = 0; clock < runtime.Clocks; clock++)
                Assert.Equal(runtime.MicroBatchAt(stage, clock) ?? -1, TinyLlamaTp2Pp2.Schedule[stage, clock]);
        using var engine = TinyLlamaTp2Pp2.Load(Fixtures.Directory(Fixtures.TinyLlama));
        Assert.Equal(runtime.ToText(), engine.Schedule.ToText());
    }

    public static TheoryData<string> EveryFixture()
    {
        var data = new TheoryData<string> { Fixtures.TinyLlama, Fixtures.TinyGpt2, Fixtures.TinyMixtral };
        foreach (var family in Fixtures.Families) data.Add(family);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryFixture))]
    public void GreedyGeneration_ThroughATp2Pp2Plan_EqualsTheReference(string fixture)
    {
        var reference = Fixtures.Load(fixture);
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2));

        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
    }

    private static void AssertSame(float[] expected, float[] actual, string what)
    {
        double error = Fixtures.RelativeError(actual, expected);
        Assert.True(error <= Tolerance, $"{what}: max|a-b|/max|ref| = {error:E3}");
    }
}
