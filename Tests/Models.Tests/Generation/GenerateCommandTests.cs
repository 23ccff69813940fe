using Tessera.Models.Tests.Cli;
using Tessera.Text;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Generation;

/// <summary><c>tessera generate --prompt</c>: the checkpoint's tokenizer in, streamed text out, a summary on stderr.</summary>
[Collection(CliCollection.Name)]
public sealed class GenerateCommandTests
{
    /// <summary>The greedy continuation of <paramref name="prompt"/> as text, computed offline: ids up to the first stop token, decoded after the prompt.</summary>
    private static string OfflineText(string checkpoint, string prompt, int maxTokens)
    {
        var tokenizer = Tokenizers.Load(Bundled(checkpoint));
        int[] ids = tokenizer.Encode(prompt);
        int[] generated = GreedyDecoder.Generate(EngineCatalog.Open(Bundled(checkpoint)), ids, maxTokens).Tokens;
        int stop = Array.FindIndex(generated, tokenizer.EndOfSequence.Contains);
        if (stop >= 0) generated = generated[..(stop + 1)];
        string before = tokenizer.Decode(ids), after = tokenizer.Decode([.. ids, .. generated]);
        Assert.StartsWith(before, after);
        return after[before.Length..];
    }

    [Theory]
    [InlineData("tiny-llama")]
    [InlineData("tiny-gpt2")]
    public void Prompt_PrintsTheGreedyContinuationAsText_AndASummaryOnStderr(string checkpoint)
    {
        var result = Run("generate", "-c", Bundled(checkpoint), "--prompt", "Once upon a time", "-n", "20");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(OfflineText(checkpoint, "Once upon a time", 20) + Environment.NewLine, result.Out);
        Assert.Contains("tokens/s", result.Error);
        Assert.Contains("time to first token", result.Error);
    }

    [Fact]
    public void Prompt_UnderAPipelinePlan_PrintsTheSameText()
    {
        var result = Run("generate", "--prompt", "Hello there", "-n", "12", "--pp", "2", "--micro-batches", "2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(OfflineText("tiny-llama", "Hello there", 12) + Environment.NewLine, result.Out);
    }

    [Fact]
    public void Prompt_WithAStopString_EndsBeforeIt()
    {
        string full = OfflineText("tiny-gpt2", "Once upon a time", 20);
        string stop = full.Substring(5, 2);

        var result = Run("generate", "-c", Bundled("tiny-gpt2"), "--prompt", "Once upon a time", "-n", "20", "--stop", stop);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)] + Environment.NewLine, result.Out);
        Assert.Contains("stopped: stop", result.Error);
    }

    [Fact]
    public void Prompt_WithASeed_IsReproducible()
    {
        string[] args = ["generate", "--prompt", "Once", "-n", "16", "--temperature", "0.9", "--top-k", "50", "--top-p", "0.95", "--seed", "7"];

        var first = Run(args);
        var second = Run(args);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(first.Out, second.Out);
    }

    [Fact]
    public void PromptAndTokens_AreMutuallyExclusive()
    {
        AssertFailsWith(Run("generate", "--prompt", "Hi", "--tokens", "1,2"), "--prompt", "--tokens", "mutually exclusive");
    }

    [Fact]
    public void NeitherPromptNorTokens_FailsSayingWhatToGive()
    {
        AssertFailsWith(Run("generate"), "--prompt", "--tokens");
    }

    [Fact]
    public void SamplingFlagsWithTokens_AreRefused()
    {
        AssertFailsWith(Run("generate", "--tokens", "1,2", "--temperature", "0.5"), "--temperature", "--prompt");
    }

    [Fact]
    public void APromptLongerThanTheContext_FailsBeforePrintingAnything()
    {
        var result = Run("generate", "--prompt", string.Join(" ", Enumerable.Repeat("once upon a time", 40)));

        AssertFailsWith(result, "context", "64");
    }

    [Fact]
    public void ZeroMaxNewTokens_IsRefusedWithOneLine()
    {
        AssertFailsWith(Run("generate", "--prompt", "Hi", "-n", "0"), "max new tokens");
    }
}
