using System.Text.Json.Nodes;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// The families as a user meets them: <c>tessera logits</c> on each family's folder gives the reference logits, on one
/// device, under every strategy and through the GPU back end; a family or an option Tessera does not implement is one
/// error line naming it.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class FamiliesCliTests
{
    public static TheoryData<string, string> FixturesAndPlans()
    {
        var data = new TheoryData<string, string>();
        foreach (var fixture in Fixtures.Families)
        {
            foreach (var flags in new[] { "", "--tp 2", "--pp 2", "--sp 2", "--devices ilgpu-cpu:1" })
                data.Add(fixture, flags);
            if (Fixtures.MixturesOfExperts.Contains(fixture)) data.Add(fixture, "--ep 2");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FixturesAndPlans))]
    public void Logits_OfEachFamily_AreTheReferenceLogits(string fixture, string flags)
    {
        using var scratch = new ScratchCheckpoint();
        var reference = Reference(fixture);

        var result = Run(["logits", "--checkpoint", Bundled(fixture), "--tokens", Ids(reference.Tokens), "--out", scratch.OutPath,
            .. flags.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.True(result.ExitCode == 0, result.ToString());
        float[] actual = SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), expected = reference.Logits.Floats();
        double error = Fixtures.RelativeError(actual, expected);
        Assert.True(error <= 1e-4, $"{fixture} {flags}: max|a-b|/max|ref| = {error:E3}");
    }

    [Theory]
    [InlineData("tiny-qwen3", "attention_bias", "true", "\"attention_bias\"", "does not implement")]
    [InlineData("tiny-gemma2", "hidden_activation", "\"gelu\"", "\"hidden_activation\"", "\"gelu_pytorch_tanh\"")]
    [InlineData("tiny-gemma2", "layer_types", """["sliding_attention", "chunked_attention", "full_attention", "full_attention"]""", "\"layer_types\"[1]", "\"chunked_attention\"")]
    [InlineData("tiny-gemma2", "layer_types", """["sliding_attention"]""", "\"layer_types\"", "1 entries", "4 layers")]
    [InlineData("tiny-qwen3-moe", "mlp_only_layers", "[3]", "\"mlp_only_layers\"", "not a layer index below 3")]
    [InlineData("tiny-llama31", "rope_scaling", """{"rope_type": "dynamic", "factor": 2.0}""", "\"rope_scaling\"", "\"dynamic\"", "does not implement")]
    [InlineData("tiny-phi3", "rope_scaling", """{"type": "longrope", "short_factor": [1], "long_factor": [1]}""", "\"rope_scaling\"", "\"longrope\"")]
    [InlineData("tiny-mistral", "sliding_window", "-8", "\"sliding_window\"", "0 or more")]
    [InlineData("tiny-gemma2", "final_logit_softcapping", "-1", "\"final_logit_softcapping\"", "0 or more")]
    [InlineData("tiny-phi3", "partial_rotary_factor", "0.5625", "partial_rotary_factor", "even")]   // 16 x 0.5625 = 9 dimensions
    [InlineData("tiny-qwen2", "model_type", "\"qwen2_vl\"", "\"qwen2_vl\"", "not supported", "qwen2, qwen3")]
    public void AnOptionOrFamilyTesseraDoesNotImplement_FailsWithOneLineNamingIt(string fixture, string key, string json, params string[] keyWords)
    {
        using var scratch = new ScratchCheckpoint(fixture);
        scratch.EditConfig(key, JsonNode.Parse(json));

        AssertFailsWith(Run("logits", "-c", scratch.Directory, "-t", "1,2,3", "-o", scratch.OutPath), keyWords);
        Assert.Empty(Directory.GetFileSystemEntries(scratch.OutDirectory));
    }

    [Fact]
    public void AMultimodalConfigWhoseTextPartNamesNoModelType_FailsNamingIt()
    {
        using var scratch = new ScratchCheckpoint("tiny-llama");
        var config = JsonNode.Parse(File.ReadAllText(scratch.ConfigPath))!.AsObject();
        config.Remove("model_type");
        File.WriteAllText(scratch.ConfigPath, new JsonObject { ["model_type"] = "llava", ["text_config"] = config }.ToJsonString());

        AssertFailsWith(Run("logits", "-c", scratch.Directory, "-t", "1,2,3", "-o", scratch.OutPath), "\"llava\"", "text_config", "model_type");
    }

    [Theory]
    [InlineData("tiny-qwen3", "Qwen3ForCausalLM")]
    [InlineData("tiny-gemma3", "Gemma3ForCausalLM")]
    public void AConfigWithoutModelType_IsRunByTheClassItsArchitecturesName(string fixture, string hfClass)
    {
        using var scratch = new ScratchCheckpoint(fixture);
        var config = JsonNode.Parse(File.ReadAllText(scratch.ConfigPath))!.AsObject();
        config.Remove("model_type");
        config["architectures"] = new JsonArray("SomethingElse", hfClass);
        File.WriteAllText(scratch.ConfigPath, config.ToJsonString());
        var reference = Reference(fixture);

        var result = Run("logits", "-c", scratch.Directory, "-t", Ids(reference.Tokens), "-o", scratch.OutPath);

        Assert.True(result.ExitCode == 0, result.ToString());
        double error = Fixtures.RelativeError(SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), reference.Logits.Floats());
        Assert.True(error <= 1e-4, $"{fixture} by {hfClass}: max|a-b|/max|ref| = {error:E3}");
    }

    [Fact]
    public void AConfigWithoutModelType_WhoseArchitecturesNameNoSupportedClass_FailsListingTheSupportedOnes()
    {
        using var scratch = new ScratchCheckpoint("tiny-qwen2");
        var config = JsonNode.Parse(File.ReadAllText(scratch.ConfigPath))!.AsObject();
        config.Remove("model_type");
        config["architectures"] = new JsonArray("Qwen2VLForConditionalGeneration");
        File.WriteAllText(scratch.ConfigPath, config.ToJsonString());

        AssertFailsWith(Run("logits", "-c", scratch.Directory, "-t", "1,2,3", "-o", scratch.OutPath),
            "no \"model_type\"", "\"Qwen2VLForConditionalGeneration\"", "Qwen2ForCausalLM");
    }
}
