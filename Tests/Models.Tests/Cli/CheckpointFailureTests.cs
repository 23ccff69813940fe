using System.Text.Json.Nodes;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>A checkpoint that is missing, corrupt or does not fit the model fails with one clear line, exit code 1, and no --out file.</summary>
[Collection(CliCollection.Name)]
public sealed class CheckpointFailureTests
{
    private const string Prompt = "1,2,3";

    private static CliResult Logits(ScratchCheckpoint scratch, string? checkpoint = null, string engine = "Generic") =>
        Run("logits", "--checkpoint", checkpoint ?? scratch.Directory, "--tokens", Prompt, "--out", scratch.OutPath, "--engine", engine);

    [Fact]
    public void Logits_WithCheckpointFolderThatDoesNotExist_FailsNamingTheFolder_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();

        AssertFailsWith(Logits(scratch, scratch.Missing), scratch.Missing, "not found");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Generate_WithCheckpointFolderThatDoesNotExist_FailsNamingTheFolder()
    {
        using var scratch = new ScratchCheckpoint();

        AssertFailsWith(Run("generate", "-c", scratch.Missing, "-t", Prompt), scratch.Missing, "not found");
    }

    [Fact]
    public void Logits_WithFolderWithoutModelSafetensors_FailsNamingTheMissingFile_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        File.Delete(scratch.ModelPath);

        AssertFailsWith(Logits(scratch), scratch.Directory, "model.safetensors");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithFolderWithoutConfigJson_FailsNamingTheConfigFile_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        File.Delete(scratch.ConfigPath);

        AssertFailsWith(Logits(scratch), "config.json", "not found");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithHeaderLengthLargerThanTheFile_FailsAsCorruptHeaderNamingTheFile_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        long size = new FileInfo(scratch.ModelPath).Length;
        SafetensorsFixture.Patch(scratch.ModelPath, 0, SafetensorsFixture.Int64(size + 1000));

        AssertFailsWith(Logits(scratch), scratch.ModelPath, "corrupt safetensors header", "header length");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithHeaderThatIsNotJson_FailsAsCorruptHeaderNamingTheFile_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        SafetensorsFixture.Patch(scratch.ModelPath, 8, SafetensorsFixture.Ascii("this is not JSON"));

        AssertFailsWith(Logits(scratch), scratch.ModelPath, "corrupt safetensors header", "JSON");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithFileShorterThanTheHeaderLength_FailsAsCorruptHeader_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        File.WriteAllBytes(scratch.ModelPath, [1, 2, 3]);

        AssertFailsWith(Logits(scratch), scratch.ModelPath, "corrupt safetensors header");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithTruncatedDataSection_FailsAsCorruptHeaderNamingATensor_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        using (var file = new FileStream(scratch.ModelPath, FileMode.Open, FileAccess.Write))
            file.SetLength(file.Length - 4096);

        AssertFailsWith(Logits(scratch), scratch.ModelPath, "corrupt safetensors header", "data_offsets");
        scratch.AssertNothingWritten();
    }

    [Theory]
    [InlineData("Generic")]
    [InlineData("Specialised")]
    public void Logits_WithMissingTensor_FailsNamingTheTensor_AndWritesNothing(string engine)
    {
        const string tensor = "model.layers.2.mlp.up_proj.weight";
        using var scratch = new ScratchCheckpoint();
        SafetensorsFixture.Rewrite(scratch.ModelPath, ts => ts.Where(t => t.Name != tensor));

        AssertFailsWith(Logits(scratch, engine: engine), $"\"{tensor}\"", "does not have");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Generate_WithMissingTensor_FailsNamingTheTensor()
    {
        const string tensor = "h.1.attn.c_proj.weight";
        using var scratch = new ScratchCheckpoint("tiny-gpt2");
        SafetensorsFixture.Rewrite(scratch.ModelPath, ts => ts.Where(t => t.Name != tensor));

        AssertFailsWith(Run("generate", "-c", scratch.Directory, "-t", Prompt), $"\"{tensor}\"", "does not have");
    }

    [Theory]
    [InlineData("Generic")]
    [InlineData("Specialised")]
    public void Logits_WithTensorOfAnotherShape_FailsNamingTheTensorAndBothShapes_AndWritesNothing(string engine)
    {
        const string tensor = "model.layers.1.mlp.up_proj.weight"; // [176, 64]
        using var scratch = new ScratchCheckpoint();
        SafetensorsFixture.Rewrite(scratch.ModelPath, ts => ts.Select(t =>
            t.Name == tensor ? t with { Shape = [88, 64], Data = t.Data[..(88 * 64 * 4)] } : t));

        AssertFailsWith(Logits(scratch, engine: engine), $"\"{tensor}\"", "shape", "[88, 64]", "[176, 64]");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithConfigHiddenSizeThatDisagreesWithTheWeights_FailsNamingTheShapeMismatch_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("hidden_size", 32);

        AssertFailsWith(Logits(scratch), "model.embed_tokens.weight", "shape", "[512, 64]", "[512, 32]");
        scratch.AssertNothingWritten();
    }

    [Theory]
    [InlineData("Generic")]
    [InlineData("Specialised")]
    public void Logits_WithWeightStoredAsI32_FailsNamingTheTensorAndItsDtype_AndWritesNothing(string engine)
    {
        const string tensor = "model.layers.0.self_attn.v_proj.weight";
        using var scratch = new ScratchCheckpoint();
        SafetensorsFixture.Rewrite(scratch.ModelPath, ts => ts.Select(t => t.Name == tensor ? t with { DType = "I32" } : t));

        AssertFailsWith(Logits(scratch, engine: engine), $"\"{tensor}\"", "dtype", "I32");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithSpecialisedEngineOnACheckpointWhoseConfigDiffersFromTheCompiledOne_FailsNamingTheField_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("rope_theta", 500000.0);

        AssertFailsWith(Logits(scratch, engine: "Specialised"), "rope_theta", "500000", "10000", "compiled");
        scratch.AssertNothingWritten();

        // The shape-generic engine runs the same checkpoint: only the specialised one is bound to the compiled config.
        Assert.Equal(0, Logits(scratch, engine: "Generic").ExitCode);
    }

    [Fact]
    public void Generate_WithSpecialisedEngineOnACheckpointWhoseConfigDiffersFromTheCompiledOne_FailsNamingTheField()
    {
        using var scratch = new ScratchCheckpoint("tiny-gpt2");
        scratch.EditConfig("layer_norm_epsilon", 1e-6);

        AssertFailsWith(Run("generate", "-c", scratch.Directory, "-t", Prompt, "--engine", "Specialised"), "layer_norm_epsilon", "compiled");
    }

    [Fact]
    public void Logits_WithUnsupportedModelType_FailsNamingTheModelType_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("model_type", JsonValue.Create("mamba"));

        AssertFailsWith(Logits(scratch), "model_type", "mamba", "not supported");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WhenFailing_LeavesAnExistingOutFileUntouched()
    {
        using var scratch = new ScratchCheckpoint();
        File.WriteAllText(scratch.OutPath, "previous");
        File.Delete(scratch.ModelPath);

        AssertFailsWith(Logits(scratch), "model.safetensors");
        Assert.Equal("previous", File.ReadAllText(scratch.OutPath));
        Assert.Single(Directory.GetFileSystemEntries(scratch.OutDirectory));
    }

    [Fact]
    public void Logits_WithAConfigFeatureTheModelDoesNotImplement_FailsNamingIt_InsteadOfRunningOtherMaths()
    {
        // Phi-3's 128k checkpoints scale RoPE with "longrope": running them with other frequencies would give wrong logits.
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("rope_scaling", JsonNode.Parse("""{"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}"""));
        AssertFailsWith(Logits(scratch), "rope_scaling", "\"longrope\"", "does not implement", "linear, llama3 and yarn");
    }

    [Fact]
    public void Logits_WithARopeScalingMissingAParameter_FailsNamingTheKey()
    {
        // llama3 scaling blends between two frequency bands: without their factors there is nothing to compute.
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("rope_scaling", JsonNode.Parse("""{"rope_type": "llama3", "factor": 32.0}"""));
        AssertFailsWith(Logits(scratch), "rope_scaling", "\"llama3\"", "\"low_freq_factor\"");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithAnActivationTheModelDoesNotImplement_FailsNamingIt()
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("hidden_act", "gelu");
        AssertFailsWith(Logits(scratch), "hidden_act", "\"gelu\"", "silu");
        scratch.AssertNothingWritten();
    }

    [Theory]
    [InlineData("tiny-llama", "rope_theta", 0.0)]
    [InlineData("tiny-llama", "rope_theta", -10000.0)]
    [InlineData("tiny-llama", "rms_norm_eps", -1e-5)]
    [InlineData("tiny-mixtral", "rope_theta", -1.0)]
    [InlineData("tiny-gpt2", "layer_norm_epsilon", 0.0)]
    public void Logits_WithAConfigNumberThatWouldMakeEveryLogitNaN_FailsNamingTheKey_AndWritesNothing(string model, string key, double value)
    {
        using var scratch = new ScratchCheckpoint(model);
        scratch.EditConfig(key, JsonValue.Create(value));

        AssertFailsWith(Logits(scratch), key, "must be a positive number");
        scratch.AssertNothingWritten();
    }
}
