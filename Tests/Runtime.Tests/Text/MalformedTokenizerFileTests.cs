using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Runtime.Tests.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>
/// Hostile or broken tokenizer files (issue 15), made by mutating the bundled tiny-llama tokenizer.json and tiny-gpt2
/// vocab.json + merges.txt: each either loads (and then encodes and decodes) or is one <see cref="CheckpointException"/>
/// naming the file and what is wrong in it, never another exception's stack trace.
/// </summary>
public sealed class MalformedTokenizerFileTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>A mutation; <paramref name="Error"/> is a fragment of the expected message, or null when the file still loads.</summary>
    private sealed record Mutation(Action<JsonObject> Apply, string? Error, string? ConfigJson = null);

    private static JsonObject Model(JsonObject json) => json["model"]!.AsObject();

    private static JsonObject Vocab(JsonObject json) => Model(json)["vocab"]!.AsObject();

    private static JsonObject FirstAdded(JsonObject json) => json["added_tokens"]!.AsArray()[0]!.AsObject();

    private static Action<JsonObject> PostProcessor(JsonNode node) => json => json["post_processor"] = node;

    private static JsonObject Bert(JsonNode? cls, JsonNode? sep) => new() { ["type"] = "BertProcessing", ["cls"] = cls, ["sep"] = sep };

    private static JsonObject TemplateWithIds(JsonArray ids) => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>", ["type_id"] = 0 } }),
        ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["id"] = "<s>", ["ids"] = ids, ["tokens"] = new JsonArray("<s>") } },
    };

    private static Action<JsonObject> Normalizer(JsonNode node) => json => json["normalizer"] = node;

    private static Action<JsonObject> PreTokenizer(JsonNode node) => json => json["pre_tokenizer"] = node;

    private static readonly Dictionary<string, Mutation> TokenizerJsonMutations = new()
    {
        ["model is an array"] = new(json => json["model"] = new JsonArray(), "\"model\""),
        ["vocab is an array"] = new(json => Model(json)["vocab"] = new JsonArray(), "model.vocab"),
        ["vocab is empty"] = new(json => Model(json)["vocab"] = new JsonObject(), "merge 0"),
        ["vocab id 1.5"] = new(json => Vocab(json)["a"] = 1.5, "model.vocab['a']"),
        ["vocab id 1e30"] = new(json => Vocab(json)["a"] = 1e30, "model.vocab['a']"),
        ["vocab id is a string"] = new(json => Vocab(json)["a"] = "68", "model.vocab['a']"),
        ["vocab id is null"] = new(json => Vocab(json)["a"] = null, "model.vocab['a']"),
        ["vocab id -1"] = new(json => Vocab(json)["a"] = -1, "token 'a' has a negative id -1"),
        ["vocab id int.MaxValue"] = new(json => Vocab(json)["a"] = int.MaxValue, $"token 'a' has id {int.MaxValue}"),
        ["vocab ids duplicated"] = new(json => Vocab(json)["a"] = Vocab(json)["b"]!.GetValue<int>(), null),
        ["merge is a number"] = new(json => Model(json)["merges"]!.AsArray().Add(5), "model.merges[253]"),
        ["merge is one token"] = new(json => Model(json)["merges"]!.AsArray().Add("a"), "model.merges[253]"),
        ["merge is an array of one"] = new(json => Model(json)["merges"]!.AsArray().Add(new JsonArray("a")), "model.merges[253]"),
        ["merges is an object"] = new(json => Model(json)["merges"] = new JsonObject(), null),
        ["unk_token is not in the vocabulary"] = new(json => Model(json)["unk_token"] = "<nope>", "unk_token '<nope>'"),
        ["added_tokens is an object"] = new(json => json["added_tokens"] = new JsonObject(), null),
        ["added token is a string"] = new(json => json["added_tokens"]!.AsArray().Add("<x>"), "added_tokens[3]"),
        ["added token id 1.5"] = new(json => FirstAdded(json)["id"] = 1.5, "added_tokens[0]"),
        ["added token id 1e30"] = new(json => FirstAdded(json)["id"] = 1e30, "added_tokens[0]"),
        ["added token id is a string"] = new(json => FirstAdded(json)["id"] = "0", "added_tokens[0]"),
        ["added token id -1"] = new(json => FirstAdded(json)["id"] = -1, "added token '<unk>' has a negative id -1"),
        ["added token id int.MaxValue"] = new(json => FirstAdded(json)["id"] = int.MaxValue, $"added token '<unk>' has id {int.MaxValue}"),
        ["added token content is a number"] = new(json => FirstAdded(json)["content"] = 5, "added_tokens[0]"),
        ["added token content is empty"] = new(json => FirstAdded(json)["content"] = "", "added token 0 is empty"),
        ["added token ids duplicated"] = new(json => json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = 2, ["content"] = "<end>", ["special"] = true }), null),
        ["Bert cls of one element"] = new(PostProcessor(Bert(new JsonArray("<s>"), new JsonArray("</s>", 2))), "post_processor.cls"),
        ["Bert cls is a string"] = new(PostProcessor(Bert("<s>", new JsonArray("</s>", 2))), "post_processor.cls"),
        ["Bert cls id 1.5"] = new(PostProcessor(Bert(new JsonArray("<s>", 1.5), new JsonArray("</s>", 2))), "post_processor.cls"),
        ["Bert cls id is a string"] = new(PostProcessor(Bert(new JsonArray("<s>", "1"), new JsonArray("</s>", 2))), "post_processor.cls"),
        ["Bert cls id -1"] = new(PostProcessor(Bert(new JsonArray("<s>", -1), new JsonArray("</s>", 2))), "special token id -1"),
        ["Bert cls id int.MaxValue"] = new(PostProcessor(Bert(new JsonArray("<s>", int.MaxValue), new JsonArray("</s>", 2))), $"special token id {int.MaxValue}"),
        ["Bert without sep"] = new(PostProcessor(Bert(new JsonArray("<s>", 1), null)), "post_processor.sep"),
        ["Bert well formed"] = new(PostProcessor(Bert(new JsonArray("<s>", 1), new JsonArray("</s>", 2))), null),
        ["Roberta sep of one element"] = new(PostProcessor(new JsonObject { ["type"] = "RobertaProcessing", ["cls"] = new JsonArray("<s>", 1), ["sep"] = new JsonArray(2) }), "post_processor.sep"),
        ["Template ids are strings"] = new(PostProcessor(TemplateWithIds(new JsonArray("x"))), "special_tokens['<s>'].ids"),
        ["Template id 1e30"] = new(PostProcessor(TemplateWithIds(new JsonArray(1e30))), "special_tokens['<s>'].ids"),
        ["Template id int.MaxValue"] = new(PostProcessor(TemplateWithIds(new JsonArray(int.MaxValue))), $"special token id {int.MaxValue}"),
        ["Template ids is a number"] = new(PostProcessor(new JsonObject
        {
            ["type"] = "TemplateProcessing",
            ["single"] = new JsonArray(new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<s>" } }),
            ["special_tokens"] = new JsonObject { ["<s>"] = new JsonObject { ["ids"] = 1 } },
        }), "special_tokens['<s>'].ids"),
        ["Template item is a string"] = new(PostProcessor(new JsonObject { ["type"] = "TemplateProcessing", ["single"] = new JsonArray("<s>") }), "TemplateProcessing items"),
        ["post_processor is a string"] = new(PostProcessor("TemplateProcessing"), "post_processor type ''"),
        ["normalizer step is a number"] = new(Normalizer(new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(5) }), "normalizer type ''"),
        ["Replace pattern does not parse"] = new(Normalizer(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = "(" }, ["content"] = "x" }), "("),
        ["Replace pattern is a string"] = new(Normalizer(new JsonObject { ["type"] = "Replace", ["pattern"] = "x", ["content"] = "y" }), "needs a pattern"),
        ["Replace regex is a number"] = new(Normalizer(new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = 5 }, ["content"] = "y" }), "a pattern must be"),
        ["Prepend of a number"] = new(Normalizer(new JsonObject { ["type"] = "Prepend", ["prepend"] = 5 }), null),
        ["Split behavior unknown"] = new(PreTokenizer(new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = " " }, ["behavior"] = "Sideways" }), "Split behavior 'Sideways'"),
        ["Split of an empty string"] = new(PreTokenizer(new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = "" }, ["behavior"] = "Removed" }), null),
        ["pre-tokenizer step is a string"] = new(PreTokenizer(new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray("ByteLevel") }), "pre_tokenizer type ''"),
        ["decoder Strip start 1e30"] = new(json => json["decoder"] = new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1e30, ["stop"] = 0 }, null),
        ["decoder Replace of a regex"] = new(json => json["decoder"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["Regex"] = "a" }, ["content"] = "b" }, "Replace decoder"),
        ["config.json eos_token_id -1"] = new(_ => { }, "eos_token_id", ConfigJson: """{"eos_token_id": -1}"""),
        ["config.json eos_token_id int.MaxValue"] = new(_ => { }, "eos_token_id", ConfigJson: $$"""{"eos_token_id": [2, {{int.MaxValue}}]}"""),
        ["config.json eos_token_id 1e30"] = new(_ => { }, null, ConfigJson: """{"eos_token_id": 1e30}"""),
    };

    public static TheoryData<string> TokenizerJsonCases => new(TokenizerJsonMutations.Keys);

    [Theory]
    [MemberData(nameof(TokenizerJsonCases))]
    public void TokenizerJson_Mutated_LoadsOrIsOneCheckpointErrorNamingTheFile(string name)
    {
        var mutation = TokenizerJsonMutations[name];
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(BundledTokenizerTests.Checkpoint("tiny-llama"), "tokenizer.json")))!.AsObject();
        mutation.Apply(json);
        File.WriteAllText(_folder.File("tokenizer.json"), json.ToJsonString());
        if (mutation.ConfigJson is { } config) File.WriteAllText(_folder.File("config.json"), config);

        AssertLoadsOrFails(() => Tokenizers.Load(_folder.Path), mutation.Error, mutation.ConfigJson is null ? "tokenizer.json" : "config.json");
    }

    /// <summary>Mutations of tiny-gpt2's vocab.json (as text: JSON with the token "a", id 65) and merges.txt.</summary>
    private static readonly Dictionary<string, (Func<string, string> Vocab, Func<string, string> Merges, string? Error, string File)> Gpt2Mutations = new()
    {
        ["vocab is an array"] = (_ => "[1, 2]", m => m, "expected a JSON object", "vocab.json"),
        ["vocab id 1.5"] = (v => v.Replace("\"a\": 64", "\"a\": 1.5"), m => m, "the id of 'a'", "vocab.json"),
        ["vocab id 1e30"] = (v => v.Replace("\"a\": 64", "\"a\": 1e30"), m => m, "the id of 'a'", "vocab.json"),
        ["vocab id is a string"] = (v => v.Replace("\"a\": 64", "\"a\": \"64\""), m => m, "the id of 'a'", "vocab.json"),
        ["vocab id -1"] = (v => v.Replace("\"a\": 64", "\"a\": -1"), m => m, "token 'a' has a negative id -1", "vocab.json"),
        ["vocab id int.MaxValue"] = (v => v.Replace("\"a\": 64", $"\"a\": {int.MaxValue}"), m => m, $"token 'a' has id {int.MaxValue}", "vocab.json"),
        ["endoftext id int.MaxValue"] = (v => v.Replace("\"<|endoftext|>\": 383", $"\"<|endoftext|>\": {int.MaxValue}"), m => m, $"has id {int.MaxValue}", "vocab.json"),
        ["vocab ids duplicated"] = (v => v.Replace("\"a\": 64", "\"a\": 65"), m => m, null, "vocab.json"),
        ["merge of one token"] = (v => v, m => m + "abc\n", "expected two tokens", "merges.txt"),
        ["merge outside the vocabulary"] = (v => v, m => m + "q zz\n", "uses a token that is not in the vocabulary", "merges.txt"),
        ["no merges"] = (v => v, _ => "", null, "merges.txt"),
        ["vocab key with a lone low surrogate"] = (v => v.Replace("\"a\": 64", "\"\\udc00x\": 64"), m => m, "UTF-16", "vocab.json"),
        ["vocab key with a lone high surrogate"] = (v => v.Replace("\"a\": 64", "\"a\\ud800\": 64"), m => m, "UTF-16", "vocab.json"),
    };

    public static TheoryData<string> Gpt2Cases => new(Gpt2Mutations.Keys);

    [Theory]
    [MemberData(nameof(Gpt2Cases))]
    public void Gpt2Files_Mutated_LoadOrAreOneCheckpointErrorNamingTheFile(string name)
    {
        var (vocab, merges, error, file) = Gpt2Mutations[name];
        string tinyGpt2 = BundledTokenizerTests.Checkpoint("tiny-gpt2");
        string original = File.ReadAllText(Path.Combine(tinyGpt2, "vocab.json"));
        Assert.Contains("\"a\": 64", original); // the mutations rely on it
        File.WriteAllText(_folder.File("vocab.json"), vocab(original));
        File.WriteAllText(_folder.File("merges.txt"), merges(File.ReadAllText(Path.Combine(tinyGpt2, "merges.txt"))));

        AssertLoadsOrFails(() => Tokenizers.Load(_folder.Path), error, file);
    }

    /// <summary>
    /// A tokenizer_config.json beside either kind of tokenizer whose bos_token or eos_token is a lone surrogate escape
    /// (JSON allows "\ud800"; a .NET string cannot be made of it): one error naming tokenizer_config.json.
    /// </summary>
    [Theory]
    [InlineData("tiny-llama", "bos_token", "\"\\ud800\"")]
    [InlineData("tiny-gpt2", "bos_token", "\"\\ud800\"")]
    [InlineData("tiny-gpt2", "eos_token", "{\"content\": \"x\\udfff\"}")]
    [InlineData("tiny-gpt2", "tokenizer_class", "\"\\ud800Llama\"")]
    public void TokenizerConfig_WithALoneSurrogate_IsOneCheckpointErrorNamingIt(string bundled, string key, string value)
    {
        foreach (var file in Directory.GetFiles(BundledTokenizerTests.Checkpoint(bundled)))
            if (Path.GetFileName(file) is "tokenizer.json" or "vocab.json" or "merges.txt") File.Copy(file, _folder.File(Path.GetFileName(file)));
        File.WriteAllText(_folder.File("tokenizer_config.json"), $$"""{"add_bos_token": true, "{{key}}": {{value}}}""");

        AssertLoadsOrFails(() => Tokenizers.Load(_folder.Path), "UTF-16", "tokenizer_config.json");
    }

    private static void AssertLoadsOrFails(Func<BpeTokenizer> load, string? expectedError, string file)
    {
        BpeTokenizer tokenizer;
        try
        {
            tokenizer = load();
        }
        catch (Exception e)
        {
            var error = Assert.IsType<CheckpointException>(e);
            Assert.True(expectedError is not null, $"expected the file to load, got: {error.Message}");
            Assert.Contains(file, error.Message);
            Assert.Contains(expectedError, error.Message);
            return;
        }
        Assert.True(expectedError is null, $"expected an error containing \"{expectedError}\", but the file loaded");
        var ids = tokenizer.Encode("Hello <s> world </s> 123 ünï 👋");
        Assert.NotEmpty(tokenizer.Decode(ids, skipSpecialTokens: false));
    }
}
