using System.Globalization;
using Tessera.Checkpoints;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Parallel;

/// <summary>
/// Tensor parallelism at the shapes real checkpoints have: key/value heads fewer than the degree (grouped- and
/// multi-query attention; each rank replicates the head its query heads read) and vocabularies no degree divides (a
/// padded vocab-parallel head whose padding never reaches the logits). Every case equals one device.
/// </summary>
public sealed class TensorShapeTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-tp-shapes-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static int[] Prompt(int length, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray();
    }

    /// <summary>Prefill of several sequences then two decode steps, under the plan and on one device.</summary>
    private static void AssertPlanEqualsOneDevice(string directory, ParallelPlan plan, int vocab)
    {
        var single = EngineCatalog.Open(directory);
        using var parallel = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, plan);
        int[][] prompts = [Prompt(11, vocab, 1), Prompt(4, vocab, 2), Prompt(17, vocab, 3)];
        var a = prompts.Select(_ => single.CreateCache()).ToArray();
        var b = prompts.Select(_ => parallel.CreateCache()).ToArray();
        float[] expected = single.Forward(TokenBatch.ForSequences(a, prompts));
        float[] actual = parallel.Forward(TokenBatch.ForSequences(b, prompts));
        Assert.Equal(expected.Length, actual.Length);
        Assert.True(Fixtures.RelativeError(actual, expected) <= Tolerance, $"{plan}, prefill: {Fixtures.RelativeError(actual, expected):E3}");
        for (int step = 0; step < 2; step++)
        {
            int[][] next = prompts.Select((_, s) => new[] { (7 * s + step) % vocab }).ToArray();
            expected = single.Forward(TokenBatch.ForSequences(a, next, lastLogitsOnly: true));
            actual = parallel.Forward(TokenBatch.ForSequences(b, next, lastLogitsOnly: true));
            Assert.True(Fixtures.RelativeError(actual, expected) <= Tolerance, $"{plan}, decode {step}: {Fixtures.RelativeError(actual, expected):E3}");
        }
    }

    [Fact]
    public void TinyLlama_AtTp8_PastItsFourKeyValueHeads_EqualsOneDevice_AndEachRankCachesOneHead()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var facts = EngineCatalog.Facts(Fixtures.Directory(Fixtures.TinyLlama));
        using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan(Tensor: 8));

        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));

        Assert.True(Fixtures.RelativeError(logits, reference.Logits) <= Tolerance);
        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
        // 4 KV heads over 8 ranks: each rank caches 1 head (1/4 of the cache), not 1/8 of one.
        long wholeCache = facts.KvBytesPerTokenPerLayer * facts.ContextLength * facts.Layers;
        Assert.All(engine.Devices, d => Assert.Equal(wholeCache / 4 * 2, d.Memory.KvCache)); // two caches made: one per sequence
        AssertPlanEqualsOneDevice(Fixtures.Directory(Fixtures.TinyLlama), new ParallelPlan(Tensor: 8, Pipeline: 2, MicroBatches: 2), reference.Vocab);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void AMultiQueryModel_SplitsOverAnyDegreeOfItsQueryHeads(int tp)
    {
        string directory = WriteLlama("mqa", dim: 64, heads: 4, kvHeads: 1, intermediate: 96, vocab: 101, layers: 2);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: tp), 101);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(6)]
    public void AGpt2WhoseVocabularyNoDegreeDivides_SplitsItsHeadWithPadding(int tp)
    {
        // 6 heads (so 2, 3 and 6 split them), a prime vocabulary of 389 and a head tied to the embedding.
        string directory = WriteGpt2("gpt2-389", dim: 96, heads: 6, vocab: 389, layers: 2);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: tp), 389);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: tp, Pipeline: 2, MicroBatches: 2, Sequence: 2), 389);
    }

    [Fact]
    public void GPT2sOwnVocabularyOf50257_UnderTp2AndTp4_EqualsOneDevice()
    {
        string directory = WriteGpt2("gpt2-50257", dim: 32, heads: 4, vocab: 50257, layers: 1);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: 2), 50257);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: 4, Data: 2), 50257);
    }

    [Fact]
    public void TinyGpt2_AtTp3_IsRefused_BecauseThreeDoesNotDivideItsFourQueryHeads()
    {
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyGpt2), EngineKind.Generic, new ParallelPlan(Tensor: 3)));
        Assert.Contains("tp = 3 does not divide", error.Message);
        Assert.Contains("Heads = 4", error.Message);
        Assert.DoesNotContain("Vocab", error.Message);   // the vocabulary no longer needs dividing
        Assert.Contains("degrees that work: 1, 2, 4", error.Message);
    }

    [Fact]
    public void ADegreeThatNeitherDividesNorIsAMultipleOfTheKeyValueHeads_IsRefusedWithTheDegreesThatWork()
    {
        // 12 query heads, 4 KV heads: tp 6 divides the query heads but a rank's 2 query heads would straddle 2 KV heads.
        string directory = WriteLlama("gqa-12-4", dim: 96, heads: 12, kvHeads: 4, intermediate: 96, vocab: 64, layers: 1);
        var error = Assert.Throws<PlanException>(() => EngineCatalog.Open(directory, EngineKind.Generic, new ParallelPlan(Tensor: 6)));
        Assert.Contains("neither divides nor is a multiple of KvHeads = 4", error.Message);
        Assert.Contains("degrees that work: 1, 2, 4, 12", error.Message);
        AssertPlanEqualsOneDevice(directory, new ParallelPlan(Tensor: 12), 64);
    }

    private string WriteLlama(string name, int dim, int heads, int kvHeads, int intermediate, int vocab, int layers)
    {
        string directory = Path.Combine(_root, name);
        Directory.CreateDirectory(directory);
        int d = dim / heads;
        File.WriteAllText(Path.Combine(directory, "config.json"), string.Create(CultureInfo.InvariantCulture, $$"""
            { "model_type": "llama", "hidden_size": {{dim}}, "intermediate_size": {{intermediate}}, "num_hidden_layers": {{layers}},
              "num_attention_heads": {{heads}}, "num_key_value_heads": {{kvHeads}}, "vocab_size": {{vocab}},
              "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": false }
            """));
        var tensors = new RandomTensors(5);
        tensors.Matrix("model.embed_tokens.weight", vocab, dim, 1);
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            tensors.Vector(p + "input_layernorm.weight", dim, 0.8, 1.2);
            tensors.Matrix(p + "self_attn.q_proj.weight", heads * d, dim, 0.2);
            tensors.Matrix(p + "self_attn.k_proj.weight", kvHeads * d, dim, 0.2);
            tensors.Matrix(p + "self_attn.v_proj.weight", kvHeads * d, dim, 0.2);
            tensors.Matrix(p + "self_attn.o_proj.weight", dim, heads * d, 0.2);
            tensors.Vector(p + "post_attention_layernorm.weight", dim, 0.8, 1.2);
            tensors.Matrix(p + "mlp.gate_proj.weight", intermediate, dim, 0.2);
            tensors.Matrix(p + "mlp.up_proj.weight", intermediate, dim, 0.2);
            tensors.Matrix(p + "mlp.down_proj.weight", dim, intermediate, 0.2);
        }
        tensors.Vector("model.norm.weight", dim, 0.8, 1.2);
        tensors.Matrix("lm_head.weight", vocab, dim, 0.2);
        tensors.Write(Path.Combine(directory, "model.safetensors"));
        return directory;
    }

    private string WriteGpt2(string name, int dim, int heads, int vocab, int layers)
    {
        string directory = Path.Combine(_root, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.json"), string.Create(CultureInfo.InvariantCulture, $$"""
            { "model_type": "gpt2", "n_embd": {{dim}}, "n_head": {{heads}}, "n_layer": {{layers}}, "n_positions": 64, "vocab_size": {{vocab}},
              "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "tie_word_embeddings": true }
            """));
        var tensors = new RandomTensors(6);
        tensors.Matrix("wte.weight", vocab, dim, 0.5);
        tensors.Matrix("wpe.weight", 64, dim, 0.1);
        for (int l = 0; l < layers; l++)
        {
            string p = $"h.{l}.";
            tensors.Vector(p + "ln_1.weight", dim, 0.8, 1.2);
            tensors.Vector(p + "ln_1.bias", dim, -0.1, 0.1);
            tensors.Matrix(p + "attn.c_attn.weight", dim, 3 * dim, 0.2);   // Conv1D: [in, out]
            tensors.Vector(p + "attn.c_attn.bias", 3 * dim, -0.1, 0.1);
            tensors.Matrix(p + "attn.c_proj.weight", dim, dim, 0.2);
            tensors.Vector(p + "attn.c_proj.bias", dim, -0.1, 0.1);
            tensors.Vector(p + "ln_2.weight", dim, 0.8, 1.2);
            tensors.Vector(p + "ln_2.bias", dim, -0.1, 0.1);
            tensors.Matrix(p + "mlp.c_fc.weight", dim, 4 * dim, 0.2);
            tensors.Vector(p + "mlp.c_fc.bias", 4 * dim, -0.1, 0.1);
            tensors.Matrix(p + "mlp.c_proj.weight", 4 * dim, dim, 0.1);
            tensors.Vector(p + "mlp.c_proj.bias", dim, -0.1, 0.1);
        }
        tensors.Vector("ln_f.weight", dim, 0.8, 1.2);
        tensors.Vector("ln_f.bias", dim, -0.1, 0.1);
        tensors.Write(Path.Combine(directory, "model.safetensors"));
        return directory;
    }

    /// <summary>Seeded random F32 tensors, written as one safetensors file.</summary>
    private sealed class RandomTensors(int seed)
    {
        private readonly Random _random = new(seed);
        private readonly List<SafetensorsWriter.Tensor> _tensors = [];

        public void Matrix(string name, int rows, int cols, double scale) =>
            _tensors.Add(new(name, [rows, cols], Floats: Enumerable.Range(0, rows * cols).Select(_ => (float)((_random.NextDouble() * 2 - 1) * scale)).ToArray()));

        public void Vector(string name, int n, double low, double high) =>
            _tensors.Add(new(name, [n], Floats: Enumerable.Range(0, n).Select(_ => (float)(low + (high - low) * _random.NextDouble())).ToArray()));

        public void Write(string path) => SafetensorsWriter.Write(path, _tensors);
    }
}
