using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Tessera.Text;

/// <summary>Where a trained vocabulary puts its special tokens.</summary>
public enum SpecialTokenPlacement
{
    /// <summary>Ids 0, 1, ... (Llama: &lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2), then the 256 byte tokens, then the merges.</summary>
    First,

    /// <summary>After the merges, the last ids (GPT-2: &lt;|endoftext|&gt; is the last id).</summary>
    Last,
}

/// <summary>
/// A deterministic byte-level BPE trainer: the text is cut into pieces by a pre-tokenisation regex, every piece into
/// its UTF-8 bytes (the 256 byte tokens, in GPT-2's order), and the most frequent adjacent pair (counted over all
/// pieces) is merged repeatedly until the vocabulary has the requested size. Ties go to the pair whose token strings
/// come first in ordinal order, so the same text and settings always give the same merges.
/// </summary>
public static class BpeTrainer
{
    /// <summary>Trains a vocabulary of exactly <paramref name="vocabSize"/> ids (byte tokens + merges + specials).</summary>
    /// <exception cref="ArgumentException">The size is smaller than 256 + the specials, or the text supports too few merges.</exception>
    public static TrainedBpe Train(string text, int vocabSize, IReadOnlyList<string>? specialTokens = null,
        SpecialTokenPlacement placement = SpecialTokenPlacement.First, string pattern = ByteLevel.Gpt2Pattern)
    {
        ArgumentNullException.ThrowIfNull(text);
        var specials = (specialTokens ?? []).ToArray();
        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Length || specials.Any(s => s.Length == 0))
            throw new ArgumentException("special tokens must be distinct and non-empty.", nameof(specialTokens));
        int regularTarget = vocabSize - specials.Length;
        if (regularTarget < 256)
            throw new ArgumentException($"vocab size {vocabSize} is too small: it needs the 256 byte tokens plus {specials.Length} special tokens.", nameof(vocabSize));

        // Token strings in the byte-level alphabet; 0..255 are the bytes in GPT-2's order (printable first).
        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.ToChar((byte)b).ToString()).OrderBy(s => s[0]).ToList();
        var idOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) idOf[tokens[i]] = i;

        // Unique pieces with their counts, in ordinal order.
        var pieceCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var regex = PreTokenizer.Pattern(pattern);
        foreach (var match in regex.EnumerateMatches(text))
        {
            if (match.Length == 0) continue;
            string piece = text.Substring(match.Index, match.Length);
            pieceCounts[piece] = pieceCounts.GetValueOrDefault(piece) + 1;
        }
        var pieces = pieceCounts.Keys.OrderBy(p => p, StringComparer.Ordinal).ToArray();
        var words = new List<int>[pieces.Length];
        var counts = new int[pieces.Length];
        for (int w = 0; w < pieces.Length; w++)
        {
            counts[w] = pieceCounts[pieces[w]];
            words[w] = Encoding.UTF8.GetBytes(pieces[w]).Select(b => idOf[ByteLevel.ToChar(b).ToString()]).ToList();
        }

        var pairCounts = new Dictionary<long, long>();
        var pairWords = new Dictionary<long, HashSet<int>>();
        void Count(int w, int sign)
        {
            var word = words[w];
            for (int i = 0; i + 1 < word.Count; i++)
            {
                long key = BpeMerges.Key(word[i], word[i + 1]);
                pairCounts[key] = pairCounts.GetValueOrDefault(key) + sign * (long)counts[w];
                if (sign > 0)
                {
                    if (!pairWords.TryGetValue(key, out var set)) pairWords[key] = set = [];
                    set.Add(w);
                }
            }
        }
        for (int w = 0; w < words.Length; w++) Count(w, +1);

        var merges = new List<(string Left, string Right)>();
        while (tokens.Count < regularTarget)
        {
            long best = 0, bestCount = 0;
            foreach (var (key, count) in pairCounts)
            {
                if (count <= 0) continue;
                if (count > bestCount || (count == bestCount && ComparePairs(tokens, key, best) < 0))
                {
                    best = key;
                    bestCount = count;
                }
            }
            if (bestCount == 0)
                throw new ArgumentException($"the training text supports only {tokens.Count + specials.Length} tokens (no pair left to merge), fewer than vocab size {vocabSize}: give a longer text.");

            int left = (int)(best >> 32), right = (int)(uint)best;
            string merged = tokens[left] + tokens[right];
            if (!idOf.TryGetValue(merged, out int mergedId))
            {
                mergedId = tokens.Count;
                tokens.Add(merged);
                idOf[merged] = mergedId;
            }
            merges.Add((tokens[left], tokens[right]));

            foreach (int w in pairWords[best].Order().ToArray())
            {
                Count(w, -1);
                var word = words[w];
                int write = 0;
                for (int read = 0; read < word.Count; read++)
                {
                    if (read + 1 < word.Count && word[read] == left && word[read + 1] == right)
                    {
                        word[write++] = mergedId;
                        read++;
                    }
                    else word[write++] = word[read];
                }
                word.RemoveRange(write, word.Count - write);
                Count(w, +1);
            }
            pairCounts.Remove(best);
            pairWords.Remove(best);
        }

        var all = placement == SpecialTokenPlacement.First ? specials.Concat(tokens).ToArray() : tokens.Concat(specials).ToArray();
        return new TrainedBpe(all, merges, specials, pattern);
    }

    private static int ComparePairs(List<string> tokens, long a, long b)
    {
        int c = string.CompareOrdinal(tokens[(int)(a >> 32)], tokens[(int)(b >> 32)]);
        return c != 0 ? c : string.CompareOrdinal(tokens[(int)(uint)a], tokens[(int)(uint)b]);
    }
}

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
        using (var stream = File.Create(vocabPath))
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            json.WriteStartObject();
            for (int id = 0; id < Tokens.Count; id++) json.WriteNumber(Tokens[id], id);
            json.WriteEndObject();
        }
        var text = new StringBuilder("#version: 0.2\n");
        foreach (var (left, right) in Merges) text.Append(left).Append(' ').Append(right).Append('\n');
        File.WriteAllText(mergesPath, text.ToString(), new UTF8Encoding(false));
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
        using (var stream = File.Create(path))
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
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
        }
        if (bosToken is null && eosToken is null) return [path];

        string configPath = Path.Combine(directory, "tokenizer_config.json");
        using (var stream = File.Create(configPath))
        using (var json = new Utf8JsonWriter(stream, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteBoolean("add_bos_token", bosToken is not null);
            json.WriteBoolean("add_eos_token", false);
            if (bosToken is not null) json.WriteString("bos_token", bosToken);
            if (eosToken is not null) json.WriteString("eos_token", eosToken);
            json.WriteBoolean("clean_up_tokenization_spaces", false);
            json.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
            json.WriteEndObject();
        }
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
