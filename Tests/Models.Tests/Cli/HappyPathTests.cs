using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary><c>tessera logits</c> and <c>tessera generate</c> on the bundled checkpoints reproduce the peer reference outputs.</summary>
[Collection(CliCollection.Name)]
public sealed class HappyPathTests
{
    [Theory]
    [InlineData("Generic")]
    [InlineData("Specialised")]
    public void Logits_OnTinyLlama_WritesOneF32LogitsTensorMatchingTheReference(string engine)
    {
        using var scratch = new ScratchCheckpoint();
        var reference = Reference("tiny-llama");

        var result = Run("logits", "--checkpoint", Bundled("tiny-llama"), "--tokens", Ids(reference.Tokens), "--out", scratch.OutPath, "--engine", engine);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("[24, 512]", result.Out);
        Assert.Equal(["logits.safetensors"], Directory.GetFiles(scratch.OutDirectory).Select(Path.GetFileName));
        var logits = Assert.Single(SafetensorsFixture.Read(scratch.OutPath));
        Assert.Equal("logits", logits.Name);
        Assert.Equal("F32", logits.DType);
        Assert.Equal([24L, 512L], logits.Shape);
        float[] actual = logits.Floats(), expected = reference.Logits.Floats();
        Assert.Equal(expected.Length, actual.Length);
        double maxError = 0, maxReference = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxError = Math.Max(maxError, Math.Abs((double)actual[i] - expected[i]));
            maxReference = Math.Max(maxReference, Math.Abs((double)expected[i]));
        }
        Assert.True(maxError / maxReference <= 1e-4, $"max|a-b|/max|ref| = {maxError / maxReference:E2}");
    }

    [Fact]
    public void Logits_WithExactlyTheContextLength_Succeeds()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Run("logits", "-c", scratch.Directory, "-t", Ids(Enumerable.Range(1, 64)), "-o", scratch.OutPath);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal([64L, 512L], SafetensorsFixture.Tensor(scratch.OutPath, "logits").Shape);
    }

    [Theory]
    [InlineData(60_000_000)]      // once: out of memory (the whole context's KV cache was allocated for 24 tokens)
    [InlineData(100_000_000)]     // once: an overflow in the KV cache's constructor
    [InlineData(int.MaxValue)]
    public void Logits_OfAShortPromptOnAModelWithAHugeContext_CostOnlyWhatThePromptFills(int context)
    {
        using var scratch = new ScratchCheckpoint();
        scratch.EditConfig("max_position_embeddings", System.Text.Json.Nodes.JsonValue.Create(context));
        var reference = Reference("tiny-llama");

        var result = Run("logits", "-c", scratch.Directory, "-t", Ids(reference.Tokens), "-o", scratch.OutPath);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(Fixtures.RelativeError(SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), reference.Logits.Floats()) <= 1e-4);
    }

    [Theory]
    [InlineData("tiny-llama", "Generic")]
    [InlineData("tiny-llama", "Specialised")]
    [InlineData("tiny-gpt2", "Generic")]
    [InlineData("tiny-gpt2", "Specialised")]
    public void Generate_OnBundledCheckpoint_PrintsExactlyTheReferenceGreedyIds(string checkpoint, string engine)
    {
        var reference = Reference(checkpoint);

        var result = Run("generate", "--checkpoint", Bundled(checkpoint), "--tokens", Ids(reference.Tokens), "-n", "16", "--engine", engine);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(Ids(reference.Greedy), result.Out.Trim());
        Assert.Contains("tokens/s", result.Error);
        Assert.DoesNotContain("error:", result.Error);
    }

    [Fact]
    public void Generate_FillingTheContextExactly_Succeeds()
    {
        // 48 prompt tokens + 17 new ones: the last new token is never fed back, so 64 positions are used.
        var result = Run("generate", "-c", Bundled("tiny-llama"), "-t", Ids(Enumerable.Range(1, 48)), "-n", "17");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(17, result.Out.Trim().Split(',').Length);
    }
}
