using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Runtime.Tests.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>Small hand-built Hugging Face tokenizer.json files: byte-level BPE (Llama 3 style) and BPE with byte fallback (Llama 2 style).</summary>
public sealed class TokenizerJsonTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    // ---- byte-level BPE with the Llama 3 split regex -------------------------------------------------------------

    /// <summary>The 256 byte tokens in GPT-2's order (ids 0..255), then merges; added tokens from 300.</summary>
    private static readonly (string Left, string Right)[] ByteLevelMerges =
    [
        ("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"),
        ("3", "4"), ("1", "2"), ("12", "3"), ("4", "5"), ("I", "'"), ("'", "M"),
    ];

    private static string ByteToken(int b) => ByteLevel.ToChar((byte)b).ToString();

    private JsonObject ByteLevelJson(string splitPattern)
    {
        var vocab = new JsonObject();
        var order = Enumerable.Range(0, 256).OrderBy(b => ByteLevel.ToChar((byte)b)).ToArray();
        for (int i = 0; i < 256; i++) vocab[ByteToken(order[i])] = i;
        int next = 256;
        foreach (var (left, right) in ByteLevelMerges) vocab[left + right] ??= next++;
        vocab["xyz"] = 299; // no merge makes it
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(
                Added(300, "<|begin_of_text|>"), Added(301, "<|end_of_text|>"), Added(302, "<|eot_id|>"), Added(303, "[extra]", special: false)),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = splitPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                    Template("<|begin_of_text|>", 300)),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = true,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(ByteLevelMerges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
            },
        };
    }

    private static JsonObject Added(int id, string content, bool special = true) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = special,
    };

    private static JsonObject Template(string token, int id) => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
        ["pair"] = new JsonArray(),
        ["special_tokens"] = new JsonObject
        {
            [token] = new JsonObject { ["id"] = token, ["ids"] = new JsonArray(id), ["tokens"] = new JsonArray(token) },
        },
    };

    private BpeTokenizer Write(JsonObject tokenizer, params (string Name, string Json)[] sidecars)
    {
        File.WriteAllText(_folder.File("tokenizer.json"), tokenizer.ToJsonString());
        foreach (var (name, json) in sidecars) File.WriteAllText(_folder.File(name), json);
        return Tokenizers.Load(_folder.Path);
    }

    private static int[] Ids(BpeTokenizer tokenizer, params string[] tokens) => tokens.Select(t => tokenizer.TokenToId(t) ?? throw new KeyNotFoundException(t)).ToArray();

    [Fact]
    public void ByteLevel_EncodesWithMergesAndTheTemplatesBos()
    {
        var tokenizer = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        Assert.Equal([300, .. Ids(tokenizer, "hello", "Ġworld")], tokenizer.Encode("hello world"));
        Assert.Equal(Ids(tokenizer, "hello", "Ġworld"), tokenizer.Encode("hello world", addSpecialTokens: false));
        Assert.Equal(300, tokenizer.BeginOfSequence);
        Assert.Equal(304, tokenizer.VocabSize);
        Assert.Equal("hello world", tokenizer.Decode(tokenizer.Encode("hello world")));
    }

    [Fact]
    public void ByteLevel_Llama3Regex_SplitsDigitsInThrees_WhereGpt2sRegexWouldNot()
    {
        var llama3 = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        Assert.Equal(Ids(llama3, "123", "45"), llama3.Encode("12345", addSpecialTokens: false));

        var gpt2 = Write(ByteLevelJson(ByteLevel.Gpt2Pattern));
        Assert.Equal(Ids(gpt2, "12", "34", "5"), gpt2.Encode("12345", addSpecialTokens: false));
    }

    [Fact]
    public void ByteLevel_Llama3Regex_MatchesContractionsCaseInsensitively()
    {
        var llama3 = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        Assert.Equal(Ids(llama3, "I", "'M"), llama3.Encode("I'M", addSpecialTokens: false));
        var gpt2 = Write(ByteLevelJson(ByteLevel.Gpt2Pattern));
        Assert.Equal(Ids(gpt2, "I", "'", "M"), gpt2.Encode("I'M", addSpecialTokens: false)); // GPT-2's 's|'t|... is lower case only
    }

    [Fact]
    public void ByteLevel_AddedTokens_AreSplitOutBeforeBpe_AndSpecialOnesDropOnDecode()
    {
        var tokenizer = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        int[] ids = tokenizer.Encode("hello<|eot_id|> world[extra]", addSpecialTokens: false);
        Assert.Equal([.. Ids(tokenizer, "hello"), 302, .. Ids(tokenizer, "Ġworld"), 303], ids);
        Assert.Equal("hello world[extra]", tokenizer.Decode(ids));
        Assert.Equal("hello<|eot_id|> world[extra]", tokenizer.Decode(ids, skipSpecialTokens: false));
        Assert.True(tokenizer.IsSpecial(302));
        Assert.False(tokenizer.IsSpecial(303));
    }

    [Fact]
    public void ByteLevel_EveryByteIsEncodable_AndUnicodeRoundTrips()
    {
        var tokenizer = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        string text = "naïve 👋 世界\r\n\t  ok";
        int[] ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.All(ids, id => Assert.InRange(id, 0, 299));
        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void ByteLevel_IgnoreMerges_TakesAWholePieceThatIsInTheVocabulary()
    {
        var json = ByteLevelJson(ByteLevel.Llama3Pattern);
        Assert.Equal([299], Write(json).Encode("xyz", addSpecialTokens: false));
        json["model"]!["ignore_merges"] = false;
        Assert.Equal(Ids(Write(json), "x", "y", "z"), Write(json).Encode("xyz", addSpecialTokens: false));
    }

    [Fact]
    public void EndOfSequence_ComesFromConfigAndGenerationConfig_IntOrList()
    {
        var tokenizer = Write(ByteLevelJson(ByteLevel.Llama3Pattern),
            ("config.json", """{"bos_token_id": 300, "eos_token_id": 301}"""),
            ("generation_config.json", """{"eos_token_id": [301, 302]}"""));
        Assert.Equal([301, 302], tokenizer.EndOfSequence);
    }

    [Fact]
    public void EndOfSequence_WithoutConfigs_IsAWellKnownEndToken()
    {
        var tokenizer = Write(ByteLevelJson(ByteLevel.Llama3Pattern));
        Assert.Equal([301], tokenizer.EndOfSequence); // <|end_of_text|>
    }

    [Fact]
    public void Merges_MayBeGivenAsStrings()
    {
        var json = ByteLevelJson(ByteLevel.Llama3Pattern);
        json["model"]!["merges"] = new JsonArray(ByteLevelMerges.Select(m => (JsonNode)JsonValue.Create($"{m.Left} {m.Right}")).ToArray());
        var tokenizer = Write(json);
        Assert.Equal(Ids(tokenizer, "hello", "Ġworld"), tokenizer.Encode("hello world", addSpecialTokens: false));
    }

    // ---- Llama 2 style: ▁ normalizer, byte fallback ----------------------------------------------------------------

    private static JsonObject SentencePieceJson(bool byteFallback = true, bool metaspace = false)
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (int b = 0; b < 256; b++) vocab[$"<0x{b:X2}>"] = 3 + b;
        int next = 259;
        foreach (string piece in new[] { "▁", "h", "e", "l", "o", "w", "r", "d" }) vocab[piece] = next++;
        (string, string)[] merges =
        [
            ("l", "l"), ("▁", "h"), ("▁h", "e"), ("▁he", "ll"), ("▁hell", "o"), ("▁", "w"), ("o", "r"), ("▁w", "or"), ("▁wor", "l"), ("▁worl", "d"),
        ];
        foreach (var (left, right) in merges) vocab[left + right] = next++;
        var json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>")),
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
            },
            ["pre_tokenizer"] = null,
            ["post_processor"] = Template("<s>", 1),
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" },
                    new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = byteFallback,
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create($"{m.Item1} {m.Item2}")).ToArray()),
            },
        };
        if (metaspace)
        {
            json["normalizer"] = null;
            json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false };
            json["decoder"] = new JsonObject { ["type"] = "Sequence", ["decoders"] = new JsonArray(
                new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = "first", ["split"] = false },
                new JsonObject { ["type"] = "ByteFallback" }, new JsonObject { ["type"] = "Fuse" }) };
        }
        return json;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SentencePiece_PrependsTheMetaspace_AddsBos_AndDecodesWithoutTheLeadingSpace(bool metaspace)
    {
        var tokenizer = Write(SentencePieceJson(metaspace: metaspace));
        int[] ids = tokenizer.Encode("hello world");
        Assert.Equal([1, .. Ids(tokenizer, "▁hello", "▁world")], ids);
        Assert.Equal(1, tokenizer.BeginOfSequence);
        Assert.False(tokenizer.ByteLevelInput);
        Assert.True(tokenizer.DecodeStripsLeadingSpace);
        Assert.Equal("hello world", tokenizer.Decode(ids));
        Assert.Equal("<s> hello world", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void SentencePiece_CharactersOutsideTheVocabulary_FallBackToByteTokens()
    {
        var tokenizer = Write(SentencePieceJson());
        int[] ids = tokenizer.Encode("hello é👋", addSpecialTokens: false);
        Assert.Equal([.. Ids(tokenizer, "▁hello", "▁"), 3 + 0xC3, 3 + 0xA9, 3 + 0xF0, 3 + 0x9F, 3 + 0x91, 3 + 0x8B], ids);
        Assert.Equal("hello é👋", tokenizer.Decode(ids));
        Assert.Equal([(byte)0xC3], tokenizer.TokenBytes(3 + 0xC3).ToArray());
        Assert.Equal(" hello"u8.ToArray(), tokenizer.TokenBytes(tokenizer.TokenToId("▁hello")!.Value).ToArray());
    }

    [Fact]
    public void SentencePiece_AddedTokens_GoThroughTheDecoder_AsHuggingFaceDecodesThem()
    {
        // Gemma's whitespace runs are added tokens ("▁▁" ... , not special); its Replace decoder makes them spaces.
        var json = SentencePieceJson();
        int spaces = json["model"]!["vocab"]!.AsObject().Count, special = spaces + 1;
        json["added_tokens"]!.AsArray().Add(Added(spaces, "▁▁▁", special: false));
        json["added_tokens"]!.AsArray().Add(Added(special, "<start_of_▁>"));
        var tokenizer = Write(json);
        int[] ids = [.. Ids(tokenizer, "▁hello"), spaces, special, .. Ids(tokenizer, "▁world")];
        Assert.Equal("   "u8.ToArray(), tokenizer.TokenBytes(spaces).ToArray());
        Assert.Equal("hello    world", tokenizer.Decode(ids));
        Assert.Equal("hello   <start_of_ > world", tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void ByteLevel_AddedTokens_DecodeToTheirOwnText()
    {
        // Hugging Face's ByteLevel decoder passes added tokens through: "Ġ" in one stays "Ġ".
        var json = ByteLevelJson(ByteLevel.Llama3Pattern);
        json["added_tokens"]!.AsArray().Add(Added(304, "<Ġx>", special: false));
        var tokenizer = Write(json);
        Assert.Equal("hello<Ġx>", tokenizer.Decode([.. Ids(tokenizer, "hello"), 304]));
    }

    [Fact]
    public void SentencePiece_ALoneByteToken_DecodesToTheReplacementCharacter() =>
        Assert.Equal("\uFFFD", Write(SentencePieceJson()).Decode([3 + 0xE2]));

    [Fact]
    public void SentencePiece_WithoutByteFallback_UnknownCharactersBecomeOneFusedUnk()
    {
        var tokenizer = Write(SentencePieceJson(byteFallback: false));
        Assert.Equal([.. Ids(tokenizer, "▁h"), 0, .. Ids(tokenizer, "o")], tokenizer.Encode("héèo", addSpecialTokens: false));
    }

    [Fact]
    public void SentencePiece_KeepsALeadingSpace_ThatTheTextHad()
    {
        var tokenizer = Write(SentencePieceJson());
        int[] ids = tokenizer.Encode(" hello", addSpecialTokens: false);
        Assert.Equal(Ids(tokenizer, "▁", "▁hello"), ids);
        Assert.Equal(" hello", tokenizer.Decode(ids));
    }

    [Fact]
    public void SentencePiece_SpecialTokensInTheText_AreSplitOut_AndTheSegmentAfterGetsItsOwnMetaspace()
    {
        var tokenizer = Write(SentencePieceJson());
        Assert.Equal([1, .. Ids(tokenizer, "▁hello"), 2, .. Ids(tokenizer, "▁world")], tokenizer.Encode("hello</s>world"));
    }

    [Fact]
    public void TokenizerConfig_AddBosTokenFalse_TurnsTheBosOff()
    {
        var tokenizer = Write(SentencePieceJson(), ("tokenizer_config.json", """{"add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>"}"""));
        Assert.Null(tokenizer.BeginOfSequence);
        Assert.Equal(Ids(tokenizer, "▁hello"), tokenizer.Encode("hello"));
        Assert.Equal([2], tokenizer.EndOfSequence);
    }

    [Fact]
    public void TokenizerConfig_AddEosToken_AppendsTheEos()
    {
        var tokenizer = Write(SentencePieceJson(), ("tokenizer_config.json",
            """{"add_bos_token": true, "add_eos_token": true, "bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"}}"""));
        Assert.Equal([1, .. Ids(tokenizer, "▁hello"), 2], tokenizer.Encode("hello"));
        Assert.Equal(Ids(tokenizer, "▁hello"), tokenizer.Encode("hello", addSpecialTokens: false));
    }

    [Fact]
    public void LlamaTokenizerClass_WithoutATemplate_AddsBosByDefault()
    {
        var json = SentencePieceJson();
        json["post_processor"] = null;
        var tokenizer = Write(json, ("tokenizer_config.json", """{"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>"}"""));
        Assert.Equal(1, tokenizer.BeginOfSequence);
        Assert.Equal([1, .. Ids(tokenizer, "▁hello")], tokenizer.Encode("hello"));
    }

    [Fact]
    public void EmptyText_IsJustTheBos() => Assert.Equal([1], Write(SentencePieceJson()).Encode(""));

    // ---- errors ------------------------------------------------------------------------------------------------------

    [Fact]
    public void Load_OfAMissingFolder_IsACheckpointError() =>
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.File("nope"))).Message);

    [Fact]
    public void Load_OfAFolderWithoutTokenizer_SaysWhatItExpects() =>
        Assert.Contains("expected tokenizer.json, or vocab.json and merges.txt", Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.Path)).Message);

    [Fact]
    public void Load_OfVocabWithoutMerges_SaysWhichFileIsMissing()
    {
        File.WriteAllText(_folder.File("vocab.json"), "{}");
        Assert.Contains("no merges.txt", Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.Path)).Message);
    }

    [Fact]
    public void Load_OfCorruptJson_IsACheckpointErrorNamingTheFile()
    {
        File.WriteAllText(_folder.File("tokenizer.json"), "{\"model\": {\"type\": \"BPE\", ");
        var error = Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.Path));
        Assert.Contains("tokenizer.json is not valid JSON", error.Message);
    }

    [Fact]
    public void Load_OfAnUnsupportedModelType_SaysSo()
    {
        var json = SentencePieceJson();
        json["model"]!["type"] = "Unigram";
        Assert.Contains("model type 'Unigram' is not supported", Assert.Throws<CheckpointException>(() => Write(json)).Message);
    }

    [Fact]
    public void Load_OfAMergeOutsideTheVocabulary_NamesTheMerge()
    {
        var json = SentencePieceJson();
        json["model"]!["merges"]!.AsArray().Add("q z");
        Assert.Contains("'q' 'z'", Assert.Throws<CheckpointException>(() => Write(json)).Message);
    }

    [Fact]
    public void Load_OfCorruptGpt2Merges_NamesTheLine()
    {
        File.WriteAllText(_folder.File("vocab.json"), """{"a": 0, "b": 1, "ab": 2}""");
        File.WriteAllText(_folder.File("merges.txt"), "#version: 0.2\na b\na b c\n");
        Assert.Contains("line 3", Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.Path)).Message);
    }

    [Fact]
    public void Load_OfAVocabularyWithAnIdFarPastItsTokens_IsRefusedWithoutAllocatingByThatId()
    {
        // Once: 7.9 GB and 15 s for this 40-byte file.
        File.WriteAllText(_folder.File("vocab.json"), """{"a": 0, "b": 1000000000}""");
        File.WriteAllText(_folder.File("merges.txt"), "#version: 0.2\n");
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<CheckpointException>(() => Tokenizers.Load(_folder.Path)).Message;

        Assert.Contains("token 'b' has id 1000000000, but the tokenizer holds 2 tokens", error);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000_000);
    }

    [Fact]
    public void Load_OfAnAddedTokenWithTheLargestId_IsRefusedInsteadOfOverflowing()
    {
        var json = SentencePieceJson();
        json["added_tokens"]!.AsArray().Add(new JsonObject { ["id"] = int.MaxValue, ["content"] = "<big>", ["special"] = true });
        Assert.Contains($"added token '<big>' has id {int.MaxValue}", Assert.Throws<CheckpointException>(() => Write(json)).Message);
    }

    [Fact]
    public void Load_PrefersTokenizerJson_OverVocabAndMerges()
    {
        File.WriteAllText(_folder.File("vocab.json"), "not json");
        File.WriteAllText(_folder.File("merges.txt"), "");
        var tokenizer = Write(SentencePieceJson());
        Assert.Equal(1, tokenizer.BeginOfSequence);
    }

    [Fact]
    public void Json_WrittenByTheTests_IsValid() => JsonDocument.Parse(SentencePieceJson().ToJsonString()).Dispose();
}
