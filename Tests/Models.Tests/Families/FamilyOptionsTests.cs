using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Cpu;
using Tessera.Experts;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Families;

/// <summary>
/// The families' options that no fixture sets by itself — YaRN and linear RoPE scaling, partial rotary embeddings,
/// dense layers among sparse ones, Qwen2's sliding-window layers, Gemma's layer_types and scaled global RoPE, null
/// soft-caps, a nested multimodal config — each on a fixture's weights written with the option set, the engine
/// against the independent fp64 reference (<see cref="HfReference"/>, checked against every fixture) at the fixtures'
/// 1e-4, on one device and, where the option meets a collective (a per-layer kind under tensor or expert
/// parallelism), under plans too. Also each family's bf16 weights, against the reference of the weights rounded.
/// </summary>
public sealed class FamilyOptionsTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-family-options-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData("""{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16}""")]
    [InlineData("""{"type": "yarn", "factor": 8.0, "original_max_position_embeddings": 32, "beta_fast": 16, "beta_slow": 2}""")] // Qwen2.5's older key
    [InlineData("""{"rope_type": "yarn", "factor": 40.0, "mscale": 1.0, "mscale_all_dim": 0.707, "original_max_position_embeddings": 8}""")] // DeepSeek's attention factor
    [InlineData("""{"rope_type": "yarn", "factor": 2.0, "attention_factor": 1.3, "truncate": false}""")] // original context: max_position_embeddings
    [InlineData("""{"rope_type": "linear", "factor": 2.5}""")]
    [InlineData("""{"rope_type": "default"}""")]
    public void Llama_WithRopeScaling_MatchesTheReference(string scaling) =>
        AssertMatchesReference(Fixtures.TinyLlama31, json => json["rope_scaling"] = JsonNode.Parse(scaling));

    [Theory]
    [InlineData(0.5f)]   // 8 of each head's 16 dimensions rotate
    [InlineData(0.75f)]  // 12: Phi-4-mini's factor
    public void Phi3_WithAPartialRotaryFactor_MatchesTheReference(float fraction) =>
        AssertMatchesReference(Fixtures.TinyPhi3, json => json["partial_rotary_factor"] = fraction, plans: [new ParallelPlan(Tensor: 2), new ParallelPlan(Sequence: 2)]);

    [Fact]
    public void Phi3_WithASlidingWindow_MatchesTheReference() =>
        AssertMatchesReference(Fixtures.TinyPhi3, json => json["sliding_window"] = 6, plans: [new ParallelPlan(Sequence: 2)]);

    [Theory]
    [InlineData(5, 1)]    // layers 1 and 2 slide over 5 positions, layer 0 sees all
    [InlineData(3, 0)]    // every layer slides
    public void Qwen2_WithUseSlidingWindow_SlidesFromMaxWindowLayersOn_AndMatchesTheReference(int window, int maxWindowLayers) =>
        AssertMatchesReference(Fixtures.TinyQwen2, json =>
        {
            json["use_sliding_window"] = true;
            json["sliding_window"] = window;
            json["max_window_layers"] = maxWindowLayers;
        }, plans: [new ParallelPlan(Sequence: 2), new ParallelPlan(Tensor: 2)]);

    [Fact]
    public void Qwen2_WithLayerTypesButUseSlidingWindowFalse_SlidesNowhere_AsTransformersDoes()
    {
        string directory = Rewrite(Fixtures.TinyQwen2, json =>
        {
            json["sliding_window"] = 3;
            json["layer_types"] = new JsonArray("sliding_attention", "sliding_attention", "sliding_attention");
        });
        AssertMatches(directory, Fixtures.Load(Fixtures.TinyQwen2).Logits, Fixtures.Load(Fixtures.TinyQwen2).Tokens, "use_sliding_window false");
    }

    [Theory]
    [InlineData("[1]", 1)]     // mlp_only_layers: layer 1 dense
    [InlineData("[]", 2)]      // decoder_sparse_step 2: only layer 1 sparse
    [InlineData("[0, 2]", 1)]  // layers 0 and 2 dense
    public void Qwen3Moe_WithDenseLayersAmongSparseOnes_MatchesTheReference_AndRoutesOnlyOnTheSparseLayers(string mlpOnlyLayers, int sparseStep)
    {
        string directory = Rewrite(Fixtures.TinyQwen3Moe, json =>
        {
            json["mlp_only_layers"] = JsonNode.Parse(mlpOnlyLayers);
            json["decoder_sparse_step"] = sparseStep;
            json["intermediate_size"] = 96;
        }, WithDenseMlps(layers: 3, intermediate: 96, dim: 64));
        var reference = HfReference.Load(directory);
        int[] tokens = Fixtures.Load(Fixtures.TinyQwen3Moe).Tokens;
        float[] expected = Flatten(reference.Logits(tokens));

        foreach (var plan in new ParallelPlan?[] { null, new(Tensor: 2), new(Expert: 2), new(Expert: 2, Tensor: 2), new(Pipeline: 3), new(Sequence: 2, Expert: 2) })
        {
            using var engine = Open(directory, plan);
            AssertMatches(engine, expected, tokens, $"{mlpOnlyLayers}, step {sparseStep}, {plan?.ToString() ?? "one device"}");
            // The engine saw the tokens twice (the prefill, then one at a time), the reference once; dense layers none.
            var load = Assert.IsAssignableFrom<IExpertRouted>(engine).ExpertLoad;
            for (int layer = 0; layer < 3; layer++)
                for (int e = 0; e < 8; e++)
                    Assert.Equal(2 * reference.ExpertCounts[layer, e], load[layer, e]);
        }
    }

    [Fact]
    public void Qwen2Moe_WithADenseLayer_MatchesTheReference()
    {
        string directory = Rewrite(Fixtures.TinyQwen2Moe, json => json["mlp_only_layers"] = new JsonArray(2), WithDenseMlps(layers: 3, intermediate: 128, dim: 64));
        AssertMatchesReferenceAt(directory, Fixtures.TinyQwen2Moe, plans: [new ParallelPlan(Tensor: 2), new ParallelPlan(Expert: 4)]);
    }

    [Fact]
    public void Gemma3_WithLayerTypes_AndLinearScalingOfItsGlobalLayers_MatchesTheReference() =>
        AssertMatchesReference(Fixtures.TinyGemma3, json =>
        {
            json["layer_types"] = new JsonArray("sliding_attention", "full_attention", "full_attention", "sliding_attention", "full_attention", "sliding_attention");
            json["rope_scaling"] = JsonNode.Parse("""{"rope_type": "linear", "factor": 4.0}""");
            json["final_logit_softcapping"] = 2.0;
        }, plans: [new ParallelPlan(Pipeline: 2), new ParallelPlan(Sequence: 3)]);

    [Fact]
    public void Gemma3_WithoutLayerTypes_TakesItsLocalAndGlobalLayersFromTheSlidingWindowPattern() =>
        AssertMatchesReference(Fixtures.TinyGemma3, json =>
        {
            json.Remove("layer_types");
            json["sliding_window_pattern"] = 2;
        });

    [Fact]
    public void Gemma2_WithNullSoftCaps_CapsNothing_AndMatchesTheReference() =>
        AssertMatchesReference(Fixtures.TinyGemma2, json =>
        {
            json["attn_logit_softcapping"] = null;
            json["final_logit_softcapping"] = null;
        });

    [Fact]
    public void Gemma2_WithoutSoftCapKeys_CapsAtItsConfigClassDefaults_50And30() =>
        AssertMatchesReference(Fixtures.TinyGemma2, json =>
        {
            json.Remove("attn_logit_softcapping");
            json.Remove("final_logit_softcapping");
        });

    [Fact]
    public void Mixtral_WithASlidingWindow_MatchesTheReference() =>
        AssertMatchesReference(Fixtures.TinyMixtral, json => json["sliding_window"] = 5, plans: [new ParallelPlan(Expert: 2, Sequence: 2)]);

    [Theory]
    [InlineData("language_model.model.")]  // as Gemma 3 checkpoints on the Hub store their text model
    [InlineData("model.language_model.")]  // as transformers 4.52 and later write them
    public void Gemma3_NestedInAMultimodalConfig_RunsItsTextModel_AndGivesTheFixturesLogits(string prefix)
    {
        string directory = Rewrite(Fixtures.TinyGemma3,
            json =>
            {
                var text = (JsonObject)json.DeepClone();
                text.Remove("model_type"); // a gemma3 wrapper's text part may leave it out: it is gemma3_text
                json.Clear();
                json["model_type"] = "gemma3";
                json["architectures"] = new JsonArray("Gemma3ForConditionalGeneration");
                json["text_config"] = text;
                json["vision_config"] = new JsonObject { ["hidden_size"] = 16 };
            },
            tensors =>
            {
                foreach (string name in tensors.Keys.ToArray())
                {
                    tensors[prefix + name["model.".Length..]] = tensors[name];
                    tensors.Remove(name);
                }
                tensors["vision_tower.vision_model.embeddings.patch_embedding.weight"] = ([4, 4], new float[16]);
            });
        var reference = Fixtures.Load(Fixtures.TinyGemma3);
        AssertMatches(directory, reference.Logits, reference.Tokens, prefix);
        using var tp2 = Open(directory, new ParallelPlan(Tensor: 2));
        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(tp2, reference.Tokens, reference.Greedy.Length).Tokens);
        Assert.Equal("Gemma3", EngineCatalog.Facts(directory).ModelName);
    }

    [Theory]
    [InlineData(Fixtures.TinyQwen3Moe)]
    [InlineData(Fixtures.TinyQwen2Moe)]
    public void TheRoutersCounts_AreTheReferencesExpertCounts_OnOneDevice_AndSummedOverExpertRanks(string fixture)
    {
        var reference = Fixtures.Load(fixture);
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Directory(fixture), "reference.safetensors"));
        long[] expected = file.ReadInt32("expert_counts").Select(c => (long)c).ToArray();
        foreach (var plan in new ParallelPlan?[] { null, new(Expert: 2), new(Expert: 4, Tensor: 2) })
        {
            using var engine = Open(Fixtures.Directory(fixture), plan);
            // As the reference fed them: the prompt in one forward, then the first 15 greedy tokens one by one.
            var cache = engine.CreateCache();
            engine.Forward(TokenBatch.ForSequence(cache, reference.Tokens, lastLogitsOnly: true));
            foreach (int token in reference.Greedy[..15]) engine.Forward(TokenBatch.ForSequence(cache, [token], lastLogitsOnly: true));
            var load = Assert.IsAssignableFrom<IExpertRouted>(engine).ExpertLoad;
            Assert.Equal(expected, Enumerable.Range(0, load.Layers).SelectMany(l => Enumerable.Range(0, load.Experts).Select(e => load[l, e])));
        }
    }

    [Theory]
    [InlineData(null)]     // null: no window (Mistral v0.2 and later)
    [InlineData("absent")] // absent: MistralConfig's 4096, longer than the prompt
    public void Mistral_WithoutAWindowShorterThanThePrompt_GivesTheFixturesLogitsWithoutTheWindow(string? window)
    {
        string directory = Rewrite(Fixtures.TinyMistral, json =>
        {
            if (window is null) json["sliding_window"] = null;
            else json.Remove("sliding_window");
        });
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Directory(Fixtures.TinyMistral), "reference.safetensors"));
        AssertMatches(directory, file.ReadFloats("logits_nowindow"), Fixtures.Load(Fixtures.TinyMistral).Tokens, $"sliding_window {window ?? "null"}");
    }

    public static TheoryData<string> EveryFamily() => [.. Fixtures.Families];

    [Theory]
    [MemberData(nameof(EveryFamily))]
    public void Bf16Weights_OfEachFamily_ComputeTheReferenceOfTheirRoundedWeights(string fixture)
    {
        // Every matrix of the checkpoint rounded to bf16 first: whichever of them the engine holds in bf16 (a router
        // stays F32), it rounds nothing further, so its bf16 kernels (F32 accumulation) must give the fp64 forward of
        // those weights at the F32 tolerance, on one device and under tensor parallelism.
        string directory = Rewrite(fixture, _ => { }, tensors =>
        {
            foreach (var name in tensors.Keys.ToList())
                if (tensors[name].Shape.Length >= 2) tensors[name] = (tensors[name].Shape, tensors[name].Values.Select(RoundToBf16).ToArray());
        });
        int[] tokens = Fixtures.Load(fixture).Tokens;
        float[] expected = Flatten(HfReference.Load(directory).Logits(tokens));
        foreach (var plan in new[] { new ParallelPlan(), new ParallelPlan(Tensor: 2) })
        {
            using var engine = new DisposableEngine(EngineCatalog.Open(directory, EngineKind.Generic, plan with { Precision = WeightPrecision.BF16 }));
            using var f32 = new DisposableEngine(EngineCatalog.Open(directory, EngineKind.Generic, plan));
            Assert.True(engine.WeightBytes < f32.WeightBytes * 3 / 4, $"{fixture}: {engine.WeightBytes} bytes in bf16 vs {f32.WeightBytes} in f32");
            AssertMatches(engine, expected, tokens, $"{fixture} bf16, {plan}");
        }
    }

    /// <summary>Round to nearest even at bf16's 8 bits of mantissa (the values here are finite).</summary>
    private static float RoundToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return BitConverter.UInt32BitsToSingle((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF_0000);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>The fixture with its config edited; the engine against the reference on that config, on one device and under the plans.</summary>
    private void AssertMatchesReference(string fixture, Action<JsonObject> editConfig, ParallelPlan[]? plans = null) =>
        AssertMatchesReferenceAt(Rewrite(fixture, editConfig), fixture, plans);

    private static void AssertMatchesReferenceAt(string directory, string fixture, ParallelPlan[]? plans = null)
    {
        int[] tokens = Fixtures.Load(fixture).Tokens;
        float[] expected = Flatten(HfReference.Load(directory).Logits(tokens));
        foreach (var plan in new ParallelPlan?[] { null }.Concat(plans ?? []))
        {
            using var engine = Open(directory, plan);
            AssertMatches(engine, expected, tokens, plan?.ToString() ?? "one device");
        }
    }

    private static void AssertMatches(string directory, float[] expected, int[] tokens, string what)
    {
        using var engine = Open(directory, null);
        AssertMatches(engine, expected, tokens, what);
    }

    /// <summary>The prefill's logits at every position, and the same positions decoded one token at a time through the cache.</summary>
    private static void AssertMatches(ITransformerEngine engine, float[] expected, int[] tokens, string what)
    {
        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), tokens));
        double error = Fixtures.RelativeError(logits, expected);
        Assert.True(error <= Tolerance, $"{what}, prefill: max|a-b|/max|ref| = {error:E3}");

        int vocab = engine.Shape.VocabSize;
        var cache = engine.CreateCache();
        var stepped = new float[expected.Length];
        for (int t = 0; t < tokens.Length; t++)
            engine.Forward(TokenBatch.ForSequence(cache, [tokens[t]])).CopyTo(stepped, (long)t * vocab);
        error = Fixtures.RelativeError(stepped, expected);
        Assert.True(error <= Tolerance, $"{what}, decode: max|a-b|/max|ref| = {error:E3}");
    }

    private static DisposableEngine Open(string directory, ParallelPlan? plan) => new(EngineCatalog.Open(directory, EngineKind.Generic, plan));

    private string Rewrite(string fixture, Action<JsonObject> editConfig, Action<Dictionary<string, (long[] Shape, float[] Values)>>? editTensors = null) =>
        RewrittenFixture.Write(_root, fixture, editConfig, editTensors);

    /// <summary>Dense SwiGLU weights (mlp.gate_proj, up_proj, down_proj) for every layer, seeded: what a dense layer among sparse ones loads.</summary>
    private static Action<Dictionary<string, (long[] Shape, float[] Values)>> WithDenseMlps(int layers, int intermediate, int dim) => tensors =>
    {
        var random = new Random(11);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5) * 0.2f).ToArray();
        for (int layer = 0; layer < layers; layer++)
        {
            tensors[$"model.layers.{layer}.mlp.gate_proj.weight"] = ([intermediate, dim], Values(intermediate * dim));
            tensors[$"model.layers.{layer}.mlp.up_proj.weight"] = ([intermediate, dim], Values(intermediate * dim));
            tensors[$"model.layers.{layer}.mlp.down_proj.weight"] = ([dim, intermediate], Values(intermediate * dim));
        }
    };

    private static float[] Flatten(double[][] rows) => rows.SelectMany(r => r.Select(v => (float)v)).ToArray();

    /// <summary>An engine disposed after use if it holds devices (a parallel plan's), passed through otherwise.</summary>
    private sealed class DisposableEngine(ITransformerEngine engine) : ITransformerEngine, IExpertRouted, IDisposable
    {
        public ModelShape Shape => engine.Shape;

        public long WeightBytes => engine.WeightBytes;

        public ExpertLoad ExpertLoad => ((IExpertRouted)engine).ExpertLoad;

        public KvCache CreateCache() => engine.CreateCache();

        public float[] Forward(TokenBatch batch) => engine.Forward(batch);

        public void Dispose() => (engine as IDisposable)?.Dispose();
    }
}
