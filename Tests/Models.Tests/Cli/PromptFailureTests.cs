using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>A prompt the model cannot run (ids outside the vocabulary, too long for the context, not numbers) fails with one clear line, exit code 1, and no --out file.</summary>
[Collection(CliCollection.Name)]
public sealed class PromptFailureTests
{
    private static string Llama => Bundled("tiny-llama");

    [Theory]
    [InlineData("1,512,3", "512", "Generic")]
    [InlineData("1,512,3", "512", "Specialised")]
    [InlineData("-1", "-1", "Generic")]
    [InlineData("5,-1", "-1", "Specialised")]
    public void Logits_WithTokenIdOutsideTheVocabulary_FailsNamingTheIdAndTheVocabulary_AndWritesNothing(string tokens, string badId, string engine)
    {
        using var scratch = new ScratchCheckpoint();

        AssertFailsWith(Run("logits", "-c", Llama, "-t", tokens, "-o", scratch.OutPath, "--engine", engine), badId, "vocabulary", "512");
        scratch.AssertNothingWritten();
    }

    [Theory]
    [InlineData("tiny-llama", "512", "512")]
    [InlineData("tiny-llama", "-1", "512")]
    [InlineData("tiny-gpt2", "384", "384")]
    public void Generate_WithTokenIdOutsideTheVocabulary_FailsNamingTheIdAndTheVocabulary(string checkpoint, string badId, string vocab)
    {
        AssertFailsWith(Run("generate", "-c", Bundled(checkpoint), "-t", $"1,{badId}"), badId, "vocabulary", vocab);
    }

    [Theory]
    [InlineData("Generic")]
    [InlineData("Specialised")]
    public void Logits_WithPromptLongerThanTheContext_FailsNamingTheContext_AndWritesNothing(string engine)
    {
        using var scratch = new ScratchCheckpoint();

        AssertFailsWith(Run("logits", "-c", Llama, "-t", Ids(Enumerable.Range(1, 65)), "-o", scratch.OutPath, "--engine", engine), "context", "65", "64");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Generate_WithPromptLongerThanTheContext_FailsNamingTheContext()
    {
        AssertFailsWith(Run("generate", "-c", Llama, "-t", Ids(Enumerable.Range(1, 65)), "-n", "1"), "context", "65", "64");
    }

    [Fact]
    public void Generate_WithPromptPlusNewTokensBeyondTheContext_FailsNamingTheContext()
    {
        // 48 + 18 new tokens need 48 + 17 = 65 positions (the last token is not fed back).
        AssertFailsWith(Run("generate", "-c", Llama, "-t", Ids(Enumerable.Range(1, 48)), "-n", "18"), "context", "65", "64");
    }

    /// <summary>Issue 28: 3 + 2^31-1 new tokens wrapped around to a negative count of positions, then sized a list of them (OutOfMemoryException).</summary>
    [Fact]
    public void Generate_WithInt32MaxNewTokens_FailsNamingTheContext_WithoutAllocatingThem()
    {
        AssertFailsWith(Run("generate", "-c", Llama, "-t", "1,2,3", "-n", "2147483647"), "context", "2147483649", "64");
    }

    [Fact]
    public void Generate_WithPromptPlusNewTokensBeyondTheContext_FailsBeforePrintingAnyToken()
    {
        var result = Run("generate", "-c", Llama, "-t", "1,2,3", "-n", "100");

        AssertFailsWith(result, "context");
        Assert.Equal("", result.Out);
    }

    [Theory]
    [InlineData("1,x,3", "'x'")]
    [InlineData("1,2.5", "'2.5'")]
    [InlineData("1,99999999999", "'99999999999'")]
    [InlineData(",", "at least one")]
    public void Logits_WithMalformedTokens_FailsNamingTheBadValue_AndWritesNothing(string tokens, string keyWord)
    {
        using var scratch = new ScratchCheckpoint();

        AssertFailsWith(Run("logits", "-c", Llama, "-t", tokens, "-o", scratch.OutPath), "--tokens", keyWord);
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Generate_WithMalformedTokens_FailsNamingTheBadValue()
    {
        AssertFailsWith(Run("generate", "-c", Llama, "-t", "1,x,3"), "--tokens", "'x'");
    }

    [Fact]
    public void Generate_WithNegativeMaxNewTokens_FailsWithOneLine()
    {
        AssertFailsWith(Run("generate", "-c", Llama, "-t", "1,2,3", "-n", "-1"), "max new tokens");
    }

    [Fact]
    public void Logits_WithOutInAFolderThatDoesNotExist_FailsNamingThePath_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();
        string folder = Path.Combine(scratch.OutDirectory, "missing");

        AssertFailsWith(Run("logits", "-c", Llama, "-t", "1,2,3", "-o", Path.Combine(folder, "logits.safetensors")), folder);
        scratch.AssertNothingWritten();
    }
}
