using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Runtime.Tests.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>
/// A tokenizer.json regex that backtracks exponentially (issue 15: `(a|aa)+$` took over 60 s on 44 characters, and kept
/// a server's cores busy after its clients left) ends as one checkpoint error naming the file and the pattern.
/// </summary>
public sealed class TokenizerPatternTimeoutTests : IDisposable
{
    private const string Catastrophic = "(a|aa)+$";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>The bundled tiny-llama tokenizer.json with the catastrophic pattern as its Split pre-tokenizer or Replace normalizer.</summary>
    private BpeTokenizer WithPattern(string step)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(BundledTokenizerTests.Checkpoint("tiny-llama"), "tokenizer.json")))!.AsObject();
        var pattern = new JsonObject { ["Regex"] = Catastrophic };
        if (step == "Split")
            json["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = pattern, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            };
        else json["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = pattern, ["content"] = "b" };
        File.WriteAllText(_folder.File("tokenizer.json"), json.ToJsonString());
        return Tokenizers.LoadTokenizerJson(_folder.File("tokenizer.json"));
    }

    [Theory]
    [InlineData("Split", "pre-tokenizer")]
    [InlineData("Replace", "normalizer")]
    public async Task Encode_WithACatastrophicPattern_StopsWithinSeconds_NamingTheFileAndThePattern(string step, string role)
    {
        var tokenizer = WithPattern(step);
        string text = new string('a', 44) + "b";

        var encoding = Task.Run(() => tokenizer.Encode(text));

        var error = await Assert.ThrowsAsync<CheckpointException>(() => encoding.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("tokenizer.json", error.Message);
        Assert.Contains($"the {role} pattern '{Catastrophic}' took longer than", error.Message);
        Assert.Contains("on a 45-character", error.Message);
    }

    [Theory]
    [InlineData("Split", "hello aaaa")]
    [InlineData("Replace", "hello b")]
    public void Encode_WithThatPattern_OnTextItMatchesQuickly_StillWorks(string step, string decoded)
    {
        var tokenizer = WithPattern(step);
        Assert.Equal(decoded, tokenizer.Decode(tokenizer.Encode("hello aaaa")));
    }
}
