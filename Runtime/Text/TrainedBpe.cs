using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Tessera.Checkpoints;

namespace Tessera.Text;

/// <summary>A trained byte-level BPE vocabulary: token strings by id (byte-level alphabet; specials as text) and merges by rank.</summary>
public sealed class TrainedBpe
{
    internal TrainedBpe(IReadOnlyList<string> tokens, IReadOnlyList<(string Left, string Right)> merges, IReadOnlyList<string> specialTokens, string pattern)
    {
        Tokens = tokens;
        Merges = merges;
        SpecialTokens = specialTokens;
        Pattern = pattern;
    }

    /// <summary>Token strings by id.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Merges, best (earliest) first.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>The special tokens, in the order given.</summary>
    public IReadOnlyList<string> SpecialTokens { get; }

    /// <summary>The pre-tokenisation regex the vocabulary was trained with.</summary>
    public string Pattern { get; }

    public int VocabSize => Tokens.Count;

    /// <summary>The id of a token string.</summary>
    public int IdOf(string token)
    {
        for (int i = 0; i < Tokens.Count; i++)
            if (Tokens[i] == token) return i;
        throw new ArgumentException($"'{token}' is not in the trained vocabulary.", nameof(token));
    }

    private static readonly JsonWriterOptions JsonOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes GPT-2's files: vocab.json (token -> id) and merges.txt. Returns the paths written.</summary>
    public string[] WriteGpt2Files(string directory)
    {
        if (Pattern != ByteLevel.Gpt2Pattern)
            throw new ArgumentException("vocab.json + merges.txt always pre-tokenize with GPT-2's pattern: train with ByteLevel.Gpt2Pattern.");
        Directory.CreateDirectory(directory);
        string vocabPath = Path.Combine(directory, "vocab.json"), mergesPath = Path.Combine(directory, "merges.txt");
        OutputFile.Check(vocabPath, mergesPath);
        OutputFile.Write(vocabPath, stream =>
        {
            using var json = new Utf8JsonWriter(stream, JsonOptions);
            json.WriteStartObject();
            for (int id = 0; id < Tokens.Count; id++) json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
        });
        var text = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in Merges) text.Append(left).Append(' ').Append(right).Append('\n');
        OutputFile.WriteText(mergesPath, text.ToString());
        return [vocabPath, mergesPath];
    }

    /// <summary>
    /// Writes a Hugging Face tokenizer.json (byte-level BPE: Split by <see cref="Pattern"/> + ByteLevel, specials as
    /// added tokens, a TemplateProcessing that prepends <paramref name="bosToken"/> when given) and, when a BOS or EOS is
    /// given, tokenizer_config.json. Returns the paths written.
    /// </summary>
    public string[] WriteTokenizerJson(string directory, string? bosToken = null, string? eosToken = null)
    {
        foreach (var token in new[] { bosToken, eosToken })
            if (token is not null && !SpecialTokens.Contains(token))
                throw new ArgumentException($"'{token}' is not one of the special tokens ({string.Join(", ", SpecialTokens)}).");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "tokenizer.json");
        string configPath = Path.Combine(directory, "tokenizer_config.json");
        OutputFile.Check(path, configPath);
        OutputFile.Write(path, stream =>
        {
            using var json = new Utf8JsonWriter(stream, JsonOptions);
            json.WriteStartObject();
            json.WriteString("version", "1.0");
            json.WriteNull("truncation");
            json.WriteNull("padding");
            json.WriteStartArray("added_tokens");
            foreach (string special in SpecialTokens)
            {
                json.WriteStartObject();
                json.WriteNumber("id", IdOf(special));
                json.WriteString("content", special);
                json.WriteBoolean("single_word", false);
                json.WriteBoolean("lstrip", false);
                json.WriteBoolean("rstrip", false);
                json.WriteBoolean("normalized", false);
                json.WriteBoolean("special", true);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteNull("normalizer");

            json.WriteStartObject("pre_tokenizer");
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", Pattern);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            WriteByteLevel(json, "ByteLevel", useRegex: false);
            json.WriteEndArray();
            json.WriteEndObject();

            if (bosToken is null) json.WriteNull("post_processor");
            else
            {
                json.WriteStartObject("post_processor");
                json.WriteString("type", "TemplateProcessing");
                json.WriteStartArray("single");
                WriteTemplateItem(json, "SpecialToken", bosToken, 0);
                WriteTemplateItem(json, "Sequence", "A", 0);
                json.WriteEndArray();
                json.WriteStartArray("pair");
                WriteTemplateItem(json, "SpecialToken", bosToken, 0);
                WriteTemplateItem(json, "Sequence", "A", 0);
                WriteTemplateItem(json, "SpecialToken", bosToken, 1);
                WriteTemplateItem(json, "Sequence", "B", 1);
                json.WriteEndArray();
                json.WriteStartObject("special_tokens");
                json.WriteStartObject(bosToken);
                json.WriteString("id", bosToken);
                json.WriteStartArray("ids");
                json.WriteNumberValue(IdOf(bosToken));
                json.WriteEndArray();
                json.WriteStartArray("tokens");
                json.WriteStringValue(bosToken);
                json.WriteEndArray();
                json.WriteEndObject();
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WritePropertyName("decoder");
            WriteByteLevel(json, null, useRegex: true);

            json.WriteStartObject("model");
            json.WriteString("type", "BPE");
            json.WriteNull("dropout");
            json.WriteNull("unk_token");
            json.WriteNull("continuing_subword_prefix");
            json.WriteNull("end_of_word_suffix");
            json.WriteBoolean("fuse_unk", false);
            json.WriteBoolean("byte_fallback", false);
            json.WriteBoolean("ignore_merges", false);
            json.WriteStartObject("vocab");
            for (int id = 0; id < Tokens.Count; id++)
                if (!SpecialTokens.Contains(Tokens[id])) json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach (var (left, right) in Merges)
            {
                json.WriteStartArray();
                json.WriteStringValue(left);
                json.WriteStringValue(right);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.WriteEndObject();
        });
        if (bosToken is null && eosToken is null) return [path];

        OutputFile.Write(configPath, stream =>
        {
            using var json = new Utf8JsonWriter(stream, JsonOptions);
            json.WriteStartObject();
            json.WriteBoolean("add_bos_token", bosToken is not null);
            json.WriteBoolean("add_eos_token", false);
            if (bosToken is not null) json.WriteString("bos_token", bosToken);
            if (eosToken is not null) json.WriteString("eos_token", eosToken);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            json.WriteEndObject();
        });
        return [path, configPath];
    }

    private static void WriteByteLevel(Utf8JsonWriter json, string? _, bool useRegex)
    {
        json.WriteStartObject();
        json.WriteString("type", "ByteLevel");
        json.WriteBoolean("add_prefix_space", false);
        json.WriteBoolean("trim_offsets", true);
        json.WriteBoolean("use_regex", useRegex);
        json.WriteEndObject();
    }

    private static void WriteTemplateItem(Utf8JsonWriter json, string kind, string id, int typeId)
    {
        json.WriteStartObject();
        json.WriteStartObject(kind);
        json.WriteString("id", id);
        json.WriteNumber("type_id", typeId);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
