using System.Text.Json.Nodes;
using Tessera.Checkpoints;

namespace Tessera.Models.Tests.Families;

/// <summary>
/// The reference's paths that no fixture takes by itself (Qwen2's window rule, Phi-3's window, Llama's biases, a
/// nested Gemma 3 config, dense layers among sparse ones), each checked by writing a fixture's weights as another
/// family that must compute the same function, and comparing with the fixture's own outputs.
/// </summary>
public sealed class HfReferenceAcrossFamiliesTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-hf-reference-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData(true, 0, "logits")]            // window on layers >= 0: all of them, as Mistral
    [InlineData(true, 3, "logits_nowindow")]   // window on layers >= 3: none
    [InlineData(false, 0, "logits_nowindow")]  // use_sliding_window false: no window whatever sliding_window says
    public void TinyMistral_WrittenAsQwen2WithZeroBiases_SlidesExactlyOnTheLayersFromMaxWindowLayers_WhenUseSlidingWindow(
        bool useSlidingWindow, int maxWindowLayers, string expectedTensor)
    {
        string directory = Rewrite("tiny-mistral",
            json =>
            {
                json["model_type"] = "qwen2";
                json["use_sliding_window"] = useSlidingWindow;
                json["max_window_layers"] = maxWindowLayers;
            },
            tensors =>
            {
                for (int layer = 0; layer < 3; layer++)
                    foreach (string projection in new[] { "q_proj", "k_proj", "v_proj" })
                    {
                        string name = $"model.layers.{layer}.self_attn.{projection}";
                        tensors[name + ".bias"] = ([tensors[name + ".weight"].Shape[0]], new float[tensors[name + ".weight"].Shape[0]]);
                    }
            });

        AssertMatches("tiny-mistral", expectedTensor, HfReference.Load(directory));
    }

    [Theory]
    [InlineData(8, "logits")]
    [InlineData(null, "logits_nowindow")]
    public void TinyMistral_WrittenAsPhi3WithFusedProjections_IsTheFixture_WithItsWindowOnEveryLayer(int? window, string expectedTensor)
    {
        string directory = Rewrite("tiny-mistral",
            json =>
            {
                json["model_type"] = "phi3";
                json["sliding_window"] = window;
            },
            tensors =>
            {
                for (int layer = 0; layer < 3; layer++)
                {
                    string p = $"model.layers.{layer}.";
                    Fuse(tensors, p + "self_attn.qkv_proj.weight", p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight");
                    Fuse(tensors, p + "mlp.gate_up_proj.weight", p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight");
                }
            });

        AssertMatches("tiny-mistral", expectedTensor, HfReference.Load(directory));
    }

    [Fact]
    public void TinyQwen2_WrittenAsLlamaWithAttentionAndMlpBiases_IsTheFixture()
    {
        string directory = Rewrite("tiny-qwen2",
            json =>
            {
                json["model_type"] = "llama";
                json["attention_bias"] = true;
                json["mlp_bias"] = true;
            },
            tensors =>
            {
                for (int layer = 0; layer < 3; layer++)
                    foreach (string name in new[] { "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" })
                    {
                        long rows = tensors[$"model.layers.{layer}.{name}.weight"].Shape[0];
                        tensors[$"model.layers.{layer}.{name}.bias"] = ([rows], new float[rows]);
                    }
            });

        AssertMatches("tiny-qwen2", "logits", HfReference.Load(directory));
    }

    [Theory]
    [InlineData("model.language_model.")]
    [InlineData("language_model.model.")]
    public void TinyGemma3_NestedUnderAGemma3TextConfig_WithAMultimodalTensorPrefix_IsTheFixture(string prefix)
    {
        string directory = Rewrite("tiny-gemma3",
            json =>
            {
                var text = (JsonObject)json.DeepClone();
                json.Clear();
                json["model_type"] = "gemma3";
                json["text_config"] = text;
            },
            tensors =>
            {
                foreach (string name in tensors.Keys.ToArray())
                {
                    tensors[prefix + name["model.".Length..]] = tensors[name];
                    tensors.Remove(name);
                }
            });

        AssertMatches("tiny-gemma3", "logits", HfReference.Load(directory));
    }

    [Fact]
    public void ADenseLayerAmongSparseOnes_ComputesWhatASparseLayerWhoseExpertsAllEqualItDoes_AndRoutesNothing()
    {
        // Every layer of tiny-qwen3-moe gets all its experts equal to expert 0, and dense mlp.*_proj weights equal
        // to expert 0 too: with norm_topk_prob the chosen weights sum to 1, so a sparse and a dense layer compute
        // the same function, and only the config decides which layers route.
        string directory = Rewrite("tiny-qwen3-moe",
            json => json["intermediate_size"] = 64,
            tensors =>
            {
                for (int layer = 0; layer < 3; layer++)
                    foreach (string projection in new[] { "gate_proj", "up_proj", "down_proj" })
                    {
                        var expert0 = tensors[$"model.layers.{layer}.mlp.experts.0.{projection}.weight"];
                        for (int e = 1; e < 8; e++) tensors[$"model.layers.{layer}.mlp.experts.{e}.{projection}.weight"] = expert0;
                        tensors[$"model.layers.{layer}.mlp.{projection}.weight"] = expert0;
                    }
            });
        var tokens = Fixtures.Load("tiny-qwen3-moe").Tokens;
        var allSparse = HfReference.Load(directory);
        var layerOneDense = HfReference.Load(directory, json => json["mlp_only_layers"] = new JsonArray(1));
        var onlyLayerOneSparse = HfReference.Load(directory, json => json["decoder_sparse_step"] = 2);

        double[][] expected = allSparse.Logits(tokens);

        foreach (var (reference, sparseLayers) in new[] { (layerOneDense, new[] { 0, 2 }), (onlyLayerOneSparse, new[] { 1 }) })
        {
            double[][] actual = reference.Logits(tokens);
            for (int t = 0; t < tokens.Length; t++)
                for (int v = 0; v < expected[t].Length; v++) Assert.Equal(expected[t][v], actual[t][v], 1e-12);
            var counts = reference.ExpertCounts;
            for (int layer = 0; layer < 3; layer++)
                for (int e = 0; e < 8; e++)
                    Assert.Equal(sparseLayers.Contains(layer) ? allSparse.ExpertCounts[layer, e] : 0, counts[layer, e]);
        }
    }

    // ---------------------------------------------------------------- helpers

    private string Rewrite(string fixture, Action<JsonObject> editConfig, Action<Dictionary<string, (long[] Shape, float[] Values)>> editTensors) =>
        RewrittenFixture.Write(_root, fixture, editConfig, editTensors);

    private static void Fuse(Dictionary<string, (long[] Shape, float[] Values)> tensors, string fused, params string[] parts) =>
        RewrittenFixture.Fuse(tensors, fused, parts);

    private static void AssertMatches(string fixture, string tensor, HfReference reference)
    {
        var expected = Fixtures.Load(fixture);
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Directory(fixture), "reference.safetensors"));
        float[] logits = file.ReadFloats(tensor);

        double[][] rows = reference.Logits(expected.Tokens);

        for (int t = 0; t < rows.Length; t++)
        {
            var row = logits.AsSpan(t * expected.Vocab, expected.Vocab);
            double maxDiff = 0, maxRef = 0;
            for (int v = 0; v < row.Length; v++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(rows[t][v] - row[v]));
                maxRef = Math.Max(maxRef, Math.Abs((double)row[v]));
            }
            Assert.True(maxDiff / maxRef <= Tolerance, $"{fixture} {tensor} row {t}: max|a-b|/max|ref| = {maxDiff / maxRef:E3}");
        }
    }
}
