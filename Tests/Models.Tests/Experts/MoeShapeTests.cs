using Tessera.Experts;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Experts;

/// <summary>
/// Mixture-of-experts shapes the fixture does not have (more experts, top-1 switch-style routing, multi-query
/// attention, top-3 of 6), run by the same generated engine with no code of their own, against a plain fp64 reference;
/// and a one-expert mixture against the dense Llama it then is.
/// </summary>
public sealed class MoeShapeTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-moe-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    public static TheoryData<string> Shapes => new() { "8 experts, top-1, MQA", "6 experts, top-3, GQA" };

    private static MixtralShape ShapeNamed(string name) => name switch
    {
        "8 experts, top-1, MQA" => new MixtralShape(Dim: 32, Intermediate: 48, Layers: 2, Heads: 4, KvHeads: 1, Vocab: 97, Experts: 8, ExpertsPerToken: 1),
        "6 experts, top-3, GQA" => new MixtralShape(Dim: 48, Intermediate: 40, Layers: 3, Heads: 4, KvHeads: 2, Vocab: 96, Experts: 6, ExpertsPerToken: 3),
        _ => throw new ArgumentException(name),
    };

    private static IEnumerable<ParallelPlan> PlansFor(MixtralShape shape) => shape.Experts == 8
        ? [new(Expert: 2), new(Expert: 8), new(Expert: 4, Pipeline: 2, MicroBatches: 2)]
        : [new(Expert: 3), new(Expert: 2, Tensor: 2), new(Expert: 6, Data: 2)];

    private static int[] Prompt(int length, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray();
    }

    private static double RelativeError(float[] actual, double[] reference)
    {
        double diff = 0, max = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(actual[i] - reference[i]));
            max = Math.Max(max, Math.Abs(reference[i]));
        }
        return diff / max;
    }

    [Fact]
    public void ThePlainReference_AgreesWithTheFixturesIndependentReference()
    {
        // The test's own reference is only trusted on new shapes because it reproduces the fixture's.
        var fixture = Fixtures.Load(Fixtures.TinyMixtral);
        var shape = new MixtralShape(Dim: 64, Intermediate: 128, Layers: 3, Heads: 8, KvHeads: 4, Vocab: 512, Experts: 4, ExpertsPerToken: 2);

        var (logits, _) = new MixtralReference(Fixtures.Directory(Fixtures.TinyMixtral), shape).Forward(fixture.Tokens);

        Assert.True(RelativeError(fixture.Logits, logits) <= 1e-6);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AShapeOfOurOwn_OnOneDevice_MatchesThePlainReference_AndCountsItsExperts(string name)
    {
        var shape = ShapeNamed(name);
        string directory = Path.Combine(_root, "model");
        MixtralReference.WriteRandomCheckpoint(directory, shape, seed: 11);
        int[] prompt = Prompt(20, shape.Vocab, seed: 5);
        var (expected, counts) = new MixtralReference(directory, shape).Forward(prompt);

        var engine = EngineCatalog.Open(directory);
        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), prompt));

        double error = RelativeError(logits, expected);
        Assert.True(error <= Tolerance, $"{name}: max|a-b|/max|ref| = {error:E3}");
        var load = ((IExpertRouted)engine).ExpertLoad;
        for (int layer = 0; layer < shape.Layers; layer++)
            for (int e = 0; e < shape.Experts; e++)
                Assert.Equal(counts[layer, e], load[layer, e]);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AShapeOfOurOwn_UnderExpertParallelPlans_EqualsOneDevice_InPrefillAndDecode(string name)
    {
        var shape = ShapeNamed(name);
        string directory = Path.Combine(_root, "model");
        MixtralReference.WriteRandomCheckpoint(directory, shape, seed: 12);
        var single = EngineCatalog.Open(directory);
        int[][] prompts = [Prompt(9, shape.Vocab, 1), Prompt(17, shape.Vocab, 2), Prompt(2, shape.Vocab, 3), Prompt(12, shape.Vocab, 4)];

        foreach (var plan in PlansFor(shape))
        {
            using var parallel = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, plan);
            var singleCaches = prompts.Select(_ => single.CreateCache()).ToArray();
            var parallelCaches = prompts.Select(_ => parallel.CreateCache()).ToArray();
            float[] a = single.Forward(TokenBatch.ForSequences(singleCaches, prompts));
            float[] b = parallel.Forward(TokenBatch.ForSequences(parallelCaches, prompts));
            Assert.True(Fixtures.RelativeError(b, a) <= Tolerance, $"{name}, {plan}: prefill");
            for (int step = 0; step < 2; step++)
            {
                int[][] next = prompts.Select((_, s) => new[] { (s * 7 + step) % shape.Vocab }).ToArray();
                a = single.Forward(TokenBatch.ForSequences(singleCaches, next, lastLogitsOnly: true));
                b = parallel.Forward(TokenBatch.ForSequences(parallelCaches, next, lastLogitsOnly: true));
                Assert.True(Fixtures.RelativeError(b, a) <= Tolerance, $"{name}, {plan}: decode step {step}");
            }
        }
    }

    [Theory]
    [InlineData(1, 1, 8, 8)]   // EP8 x TP8
    [InlineData(2, 1, 8, 4)]   // EP8 x TP4 x DP2
    [InlineData(1, 2, 8, 4)]   // EP8 x PP2 x TP4
    public void TheSeedsMixtralPlans_On64Devices_EqualOneDevice(int dp, int pp, int ep, int tp)
    {
        // Mixtral-8x7B's layout in miniature: 8 experts, top-2, 8 KV heads (so tp 8 divides them).
        var shape = new MixtralShape(Dim: 64, Intermediate: 32, Layers: 2, Heads: 8, KvHeads: 8, Vocab: 64, Experts: 8, ExpertsPerToken: 2);
        string directory = Path.Combine(_root, "model");
        MixtralReference.WriteRandomCheckpoint(directory, shape, seed: 8);
        int[][] prompts = [Prompt(6, shape.Vocab, 1), Prompt(3, shape.Vocab, 2), Prompt(9, shape.Vocab, 3)];
        var single = EngineCatalog.Open(directory);
        float[] expected = single.Forward(TokenBatch.ForSequences(prompts.Select(_ => single.CreateCache()).ToArray(), prompts));

        using var parallel = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, new ParallelPlan(Data: dp, Pipeline: pp, Expert: ep, Tensor: tp));
        float[] actual = parallel.Forward(TokenBatch.ForSequences(prompts.Select(_ => parallel.CreateCache()).ToArray(), prompts));

        Assert.Equal(64, parallel.Devices.Count);
        Assert.True(Fixtures.RelativeError(actual, expected) <= Tolerance, $"{parallel.Plan}: {Fixtures.RelativeError(actual, expected):E3}");
    }

    [Fact]
    public void Bf16Weights_OnAMixtureOfExperts_AreExactArithmeticOnTheRoundedWeights_WithTheRouterKeptF32()
    {
        // bf16 moves tiny-mixtral's logits by up to ~1e-2 of the largest (7-bit mantissas through 3 layers of 8
        // products); what the engine must get right is the arithmetic: the plain fp64 reference on the same weights
        // rounded to bf16 (all but the routers, which stay F32 so that rounding cannot send a token elsewhere).
        var fixture = Fixtures.Load(Fixtures.TinyMixtral);
        var shape = new MixtralShape(Dim: 64, Intermediate: 128, Layers: 3, Heads: 8, KvHeads: 4, Vocab: 512, Experts: 4, ExpertsPerToken: 2);
        string rounded = Path.Combine(_root, "bf16");
        Directory.CreateDirectory(rounded);
        File.Copy(Path.Combine(Fixtures.Directory(Fixtures.TinyMixtral), "config.json"), Path.Combine(rounded, "config.json"));
        static bool IsMatrix(Cli.RawTensor t) => t.Shape.Length == 2 && !t.Name.EndsWith("block_sparse_moe.gate.weight", StringComparison.Ordinal)
                                                 && t.Name != "model.embed_tokens.weight";
        Cli.SafetensorsFixture.Write(Path.Combine(rounded, "model.safetensors"),
            Cli.SafetensorsFixture.Read(Path.Combine(Fixtures.Directory(Fixtures.TinyMixtral), "model.safetensors")).Select(t => IsMatrix(t)
                ? t with { Data = t.Floats().Select(v => Tessera.Cpu.WeightMatrix.FromBf16(Tessera.Cpu.WeightMatrix.ToBf16(v))).SelectMany(BitConverter.GetBytes).ToArray() }
                : t));
        var (expected, counts) = new MixtralReference(rounded, shape).Forward(fixture.Tokens);

        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyMixtral), EngineKind.Generic, new ParallelPlan { Precision = Tessera.Cpu.WeightPrecision.BF16 });
        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), fixture.Tokens));

        Assert.True(RelativeError(logits, expected) <= Tolerance, $"bf16 engine vs fp64 on bf16 weights: {RelativeError(logits, expected):E3}");
        Assert.True(Fixtures.RelativeError(logits, fixture.Logits) <= 2e-2, $"bf16 vs the f32 reference: {Fixtures.RelativeError(logits, fixture.Logits):E3}");
        var load = ((IExpertRouted)engine).ExpertLoad;
        for (int layer = 0; layer < shape.Layers; layer++)
            for (int e = 0; e < shape.Experts; e++)
                Assert.Equal(counts[layer, e], load[layer, e]);
        Assert.Equal(fixture.Greedy, GreedyDecoder.Generate(engine, fixture.Tokens, fixture.Greedy.Length).Tokens);
    }

    [Fact]
    public void AMixtureOfOneExpert_IsTheDenseLlamaWithThatExpertAsItsMlp()
    {
        // softmax over one expert is 1: the layer is exactly Llama's SwiGLU MLP with w1/w3/w2 as gate/up/down.
        var shape = new MixtralShape(Dim: 32, Intermediate: 40, Layers: 2, Heads: 4, KvHeads: 2, Vocab: 64, Experts: 1, ExpertsPerToken: 1);
        string moe = Path.Combine(_root, "moe"), dense = Path.Combine(_root, "dense");
        MixtralReference.WriteRandomCheckpoint(moe, shape, seed: 3);
        Directory.CreateDirectory(dense);
        File.WriteAllText(Path.Combine(dense, "config.json"), shape.ConfigJson().Replace("\"mixtral\"", "\"llama\"").Replace("MixtralForCausalLM", "LlamaForCausalLM")
            .Replace("\"num_local_experts\": 1, \"num_experts_per_tok\": 1, \"sliding_window\": null", "\"rope_scaling\": null"));
        var renamed = Cli.SafetensorsFixture.Read(Path.Combine(moe, "model.safetensors"))
            .Where(t => !t.Name.EndsWith("block_sparse_moe.gate.weight", StringComparison.Ordinal))
            .Select(t => t with { Name = t.Name.Replace("block_sparse_moe.experts.0.w1", "mlp.gate_proj").Replace("block_sparse_moe.experts.0.w3", "mlp.up_proj").Replace("block_sparse_moe.experts.0.w2", "mlp.down_proj") });
        Cli.SafetensorsFixture.Write(Path.Combine(dense, "model.safetensors"), renamed);
        int[] prompt = Prompt(16, shape.Vocab, seed: 9);

        var mixtral = EngineCatalog.Open(moe);
        var llama = EngineCatalog.Open(dense);
        float[] a = mixtral.Forward(TokenBatch.ForSequence(mixtral.CreateCache(), prompt));
        float[] b = llama.Forward(TokenBatch.ForSequence(llama.CreateCache(), prompt));

        Assert.Equal("Llama", llama.Shape.ModelName);
        Assert.True(Fixtures.RelativeError(a, b) <= 1e-6, $"{Fixtures.RelativeError(a, b):E3}");
    }
}
