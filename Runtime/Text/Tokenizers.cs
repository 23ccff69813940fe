using System.Text;
using System.Text.Json;
using Tessera.Checkpoints;

namespace Tessera.Text;

/// <summary>Loads the tokenizer of a checkpoint folder: tokenizer.json, else GPT-2's vocab.json + merges.txt.</summary>
public static class Tokenizers
{
    /// <summary>
    /// The tokenizer of a GGUF file (its metadata: <see cref="GgufTokenizer"/>), or of a Hugging Face checkpoint folder: <c>tokenizer.json</c> when present, else <c>vocab.json</c> +
    /// <c>merges.txt</c>. BOS/EOS come from the tokenizer and, when present, tokenizer_config.json, config.json and
    /// generation_config.json beside it. Missing or corrupt files throw <see cref="CheckpointException"/>.
    /// </summary>
    public static BpeTokenizer Load(string checkpointDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDirectory);
        if (File.Exists(checkpointDirectory))
        {
            using var gguf = GgufFile.Open(checkpointDirectory);
            return GgufTokenizer.Load(gguf);
        }
        if (!Directory.Exists(checkpointDirectory))
            throw new CheckpointException($"checkpoint folder '{checkpointDirectory}' does not exist.");
        string json = Path.Combine(checkpointDirectory, "tokenizer.json");
        if (File.Exists(json)) return LoadTokenizerJson(json);
        string vocab = Path.Combine(checkpointDirectory, "vocab.json"), merges = Path.Combine(checkpointDirectory, "merges.txt");
        if (File.Exists(vocab) && File.Exists(merges)) return LoadGpt2(vocab, merges);
        if (File.Exists(vocab) || File.Exists(merges))
            throw new CheckpointException($"'{checkpointDirectory}' has {(File.Exists(vocab) ? "vocab.json but no merges.txt" : "merges.txt but no vocab.json")}: a GPT-2 tokenizer needs both.");
        throw new CheckpointException($"'{checkpointDirectory}' has no tokenizer: expected tokenizer.json, or vocab.json and merges.txt.");
    }

    /// <summary>GPT-2's byte-level BPE from vocab.json (token -> id) and merges.txt ("#version" line, then "a b" per line).</summary>
    public static BpeTokenizer LoadGpt2(string vocabJsonPath, string mergesPath)
    {
        var vocab = ReadVocab(vocabJsonPath);
        var merges = new List<(string, string)>();
        string[] lines = ReadText(mergesPath, FileText.Tokenizer).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new CheckpointException($"{mergesPath}, line {i + 1}: expected two tokens separated by one space, got '{line}'.");
            merges.Add((parts[0], parts[1]));
        }

        var definition = new BpeDefinition
        {
            Source = mergesPath,
            VocabSource = vocabJsonPath,
            Vocab = vocab,
            Merges = merges,
            ByteLevelInput = true,
            PreTokenizers = [new PreTokenizer.ByteLevelSplit(addPrefixSpace: false, useRegex: true, mergesPath)],
            TokenToBytes = ByteLevel.Decode,
        };
        if (vocab.TryGetValue("<|endoftext|>", out int endOfText)) definition.AddedTokens.Add(new AddedToken(endOfText, "<|endoftext|>"));
        ApplySidecars(definition, Path.GetDirectoryName(Path.GetFullPath(vocabJsonPath))!, [], []);
        return Build(definition);
    }

    /// <summary>A Hugging Face tokenizer.json with a BPE model (byte-level, or characters with byte fallback).</summary>
    public static BpeTokenizer LoadTokenizerJson(string path)
    {
        using var document = ParseJson(path, FileText.Tokenizer);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: expected a JSON object.");
        return Reading(path, () => Build(ReadTokenizerJson(path, root)));
    }

    /// <summary>
    /// Runs <paramref name="read"/> over the file at <paramref name="path"/>, its failures one <see cref="CheckpointException"/>
    /// naming the file: among them a string with a lone surrogate escape ("\ud800"), which JSON allows and .NET's strings
    /// refuse (<see cref="JsonElement.GetString"/> throws InvalidOperationException).
    /// </summary>
    private static T Reading<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException or System.Text.RegularExpressions.RegexParseException)
        {
            throw new CheckpointException($"{path}: {FileText.Escaped(e.Message)}", e);
        }
    }

    private static BpeTokenizer Build(BpeDefinition definition) => new(definition);

    private static BpeDefinition ReadTokenizerJson(string path, JsonElement root)
    {
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: no \"model\" object.");
        string type = String(model, "type") ?? (model.TryGetProperty("merges", out _) ? "BPE" : "unknown");
        if (type != "BPE") throw new CheckpointException($"{path}: model type '{type}' is not supported (only BPE).");
        if (String(model, "continuing_subword_prefix") is { Length: > 0 } || String(model, "end_of_word_suffix") is { Length: > 0 })
            throw new CheckpointException($"{path}: BPE continuing_subword_prefix / end_of_word_suffix are not supported.");

        if (!model.TryGetProperty("vocab", out var vocabElement) || vocabElement.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: model.vocab must be an object of token -> id.");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocabElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                throw new CheckpointException($"{path}: model.vocab['{BpeTokenizer.Printable(entry.Name)}'] is not an integer id.");
            vocab[entry.Name] = id;
        }

        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out var mergesElement) && mergesElement.ValueKind == JsonValueKind.Array)
        {
            int index = 0;
            foreach (var merge in mergesElement.EnumerateArray())
            {
                if (merge.ValueKind == JsonValueKind.String)
                {
                    var parts = merge.GetString()!.Split(' ');
                    if (parts.Length != 2) throw new CheckpointException($"{path}: model.merges[{index}] '{merge.GetString()}' is not two tokens separated by one space.");
                    merges.Add((parts[0], parts[1]));
                }
                else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                    merges.Add((merge[0].GetString()!, merge[1].GetString()!));
                else throw new CheckpointException($"{path}: model.merges[{index}] must be \"a b\" or [\"a\", \"b\"].");
                index++;
            }
        }

        var definition = new BpeDefinition
        {
            Source = path,
            Vocab = vocab,
            Merges = merges,
            ByteFallback = Bool(model, "byte_fallback") ?? false,
            UnkToken = String(model, "unk_token"),
            FuseUnk = Bool(model, "fuse_unk") ?? false,
            IgnoreMerges = Bool(model, "ignore_merges") ?? false,
            TokenToBytes = null!,
        };

        int addedIndex = 0;
        foreach (var token in Array(root, "added_tokens"))
        {
            string entry = $"added_tokens[{addedIndex++}]";
            if (token.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: {entry} must be an object with an integer id and a content string.");
            if (Get(token, "id") is not { ValueKind: JsonValueKind.Number } idElement || !idElement.TryGetInt32(out int id))
                throw new CheckpointException($"{path}: {entry}.id must be an integer.");
            if (String(token, "content") is not { } content)
                throw new CheckpointException($"{path}: {entry}.content must be a string.");
            definition.AddedTokens.Add(new AddedToken(id, content, Bool(token, "special") ?? false, Bool(token, "lstrip") ?? false, Bool(token, "rstrip") ?? false));
        }

        if (Get(root, "normalizer") is { } normalizer) definition.Normalizer = ReadNormalizer(path, normalizer);
        if (Get(root, "pre_tokenizer") is { } preTokenizer) ReadPreTokenizer(path, preTokenizer, definition);

        // Decoder: how tokens become bytes, and whether a leading space is dropped.
        var decoding = new Decoding();
        if (Get(root, "decoder") is { } decoder) ReadDecoder(path, decoder, decoding);
        else
        {
            decoding.ByteLevel = definition.ByteLevelInput;
            decoding.ByteFallback = definition.ByteFallback;
        }
        definition.StripLeadingSpace = decoding.StripLeadingSpace;
        definition.TokenToBytes = decoding.ByteLevel ? ByteLevel.Decode : decoding.Bytes;
        definition.DecodeAddedTokens = !decoding.ByteLevel;

        // Post-processor: the ids around the text (BOS ...).
        var prefixIds = new List<int>();
        var suffixIds = new List<int>();
        if (Get(root, "post_processor") is { } post) ReadPostProcessor(path, post, prefixIds, suffixIds);
        definition.Prefix = prefixIds;
        definition.Suffix = suffixIds;
        ApplySidecars(definition, Path.GetDirectoryName(Path.GetFullPath(path))!, prefixIds, suffixIds);
        return definition;
    }

    private sealed class Decoding
    {
        public bool ByteLevel;
        public bool ByteFallback;
        public bool StripLeadingSpace;
        public readonly List<(string From, string To)> Replacements = [];

        public byte[] Bytes(string token)
        {
            if (ByteFallback && token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
                && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte value))
                return [value];
            foreach (var (from, to) in Replacements) token = token.Replace(from, to, StringComparison.Ordinal);
            return Encoding.UTF8.GetBytes(token);
        }
    }

    private static Normalizer ReadNormalizer(string path, JsonElement element)
    {
        string type = String(element, "type") ?? "";
        switch (type)
        {
            case "Sequence":
                return new Normalizer.Sequence(Array(element, "normalizers").Select(n => ReadNormalizer(path, n)).ToArray());
            case "Prepend":
                return new Normalizer.Prepend(String(element, "prepend") ?? "");
            case "Replace":
            {
                var (regex, literal) = ReadPattern(path, element);
                return new Normalizer.Replace(regex, literal, String(element, "content") ?? "", path);
            }
            case "NFC": return new Normalizer.Unicode(NormalizationForm.FormC);
            case "NFD": return new Normalizer.Unicode(NormalizationForm.FormD);
            case "NFKC": return new Normalizer.Unicode(NormalizationForm.FormKC);
            case "NFKD": return new Normalizer.Unicode(NormalizationForm.FormKD);
            case "Lowercase": return new Normalizer.Lowercase();
            default: throw new CheckpointException($"{path}: normalizer type '{type}' is not supported (Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase are).");
        }
    }

    private static void ReadPreTokenizer(string path, JsonElement element, BpeDefinition definition)
    {
        string type = String(element, "type") ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var step in Array(element, "pretokenizers")) ReadPreTokenizer(path, step, definition);
                break;
            case "ByteLevel":
                definition.ByteLevelInput = true;
                definition.PreTokenizers.Add(new PreTokenizer.ByteLevelSplit(Bool(element, "add_prefix_space") ?? true, Bool(element, "use_regex") ?? true, path));
                break;
            case "Split":
            {
                if (Bool(element, "invert") == true) throw new CheckpointException($"{path}: Split pre-tokenizer with invert = true is not supported.");
                var (regex, literal) = ReadPattern(path, element);
                regex ??= PreTokenizer.Pattern(System.Text.RegularExpressions.Regex.Escape(literal));
                string behavior = String(element, "behavior") ?? "Isolated";
                if (!Enum.TryParse<PreTokenizer.Behavior>(behavior, out var parsed))
                    throw new CheckpointException($"{path}: Split behavior '{behavior}' is not supported (Isolated, Removed, MergedWithPrevious, MergedWithNext are).");
                definition.PreTokenizers.Add(new PreTokenizer.RegexSplit(regex, parsed, path));
                break;
            }
            case "Digits":
                definition.PreTokenizers.Add(new PreTokenizer.RegexSplit(PreTokenizer.Pattern(Bool(element, "individual_digits") == true ? @"\p{N}" : @"\p{N}+"), PreTokenizer.Behavior.Isolated, path));
                break;
            case "Metaspace":
                definition.PreTokenizers.Add(new PreTokenizer.Metaspace(Replacement(element), Prepend(element), Bool(element, "split") ?? true));
                break;
            default:
                throw new CheckpointException($"{path}: pre_tokenizer type '{type}' is not supported (Sequence, ByteLevel, Split, Digits, Metaspace are).");
        }
    }

    private static void ReadDecoder(string path, JsonElement element, Decoding decoding)
    {
        string type = String(element, "type") ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var step in Array(element, "decoders")) ReadDecoder(path, step, decoding);
                break;
            case "ByteLevel":
                decoding.ByteLevel = true;
                break;
            case "ByteFallback":
                decoding.ByteFallback = true;
                break;
            case "Fuse":
                break;
            case "Replace":
            {
                var (regex, literal) = ReadPattern(path, element);
                if (regex is not null) throw new CheckpointException($"{path}: Replace decoder with a regex pattern is not supported.");
                decoding.Replacements.Add((literal, String(element, "content") ?? ""));
                break;
            }
            case "Strip":
            {
                string content = String(element, "content") ?? " ";
                int start = Int(element, "start") ?? 0, stop = Int(element, "stop") ?? 0;
                if (content != " " || start > 1 || stop != 0)
                    throw new CheckpointException($"{path}: Strip decoder is supported only as content ' ', start 0 or 1, stop 0.");
                decoding.StripLeadingSpace |= start == 1;
                break;
            }
            case "Metaspace":
                decoding.Replacements.Add((Replacement(element).ToString(), " "));
                decoding.StripLeadingSpace |= Prepend(element) != PreTokenizer.Metaspace.Prepend.Never;
                break;
            default:
                throw new CheckpointException($"{path}: decoder type '{type}' is not supported (Sequence, ByteLevel, ByteFallback, Fuse, Replace, Strip, Metaspace are).");
        }
    }

    private static void ReadPostProcessor(string path, JsonElement element, List<int> prefix, List<int> suffix)
    {
        string type = String(element, "type") ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var step in Array(element, "processors")) ReadPostProcessor(path, step, prefix, suffix);
                break;
            case "ByteLevel":
                break;
            case "TemplateProcessing":
            {
                var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (Get(element, "special_tokens") is { ValueKind: JsonValueKind.Object } map)
                    foreach (var entry in map.EnumerateObject())
                        specials[entry.Name] = Ids(path, Get(entry.Value, "ids"), $"post_processor special_tokens['{BpeTokenizer.Printable(entry.Name)}'].ids");
                prefix.Clear();
                suffix.Clear();
                bool seenSequence = false;
                foreach (var item in Array(element, "single"))
                {
                    if (item.ValueKind != JsonValueKind.Object)
                        throw new CheckpointException($"{path}: TemplateProcessing items must be Sequence or SpecialToken objects.");
                    if (item.TryGetProperty("Sequence", out _))
                    {
                        seenSequence = true;
                        continue;
                    }
                    if (!item.TryGetProperty("SpecialToken", out var special) || String(special, "id") is not { } name)
                        throw new CheckpointException($"{path}: TemplateProcessing items must be Sequence or SpecialToken.");
                    if (!specials.TryGetValue(name, out var ids))
                        throw new CheckpointException($"{path}: TemplateProcessing uses '{name}', which is not in its special_tokens.");
                    (seenSequence ? suffix : prefix).AddRange(ids);
                }
                break;
            }
            case "BertProcessing":
            case "RobertaProcessing":
                prefix.Clear();
                suffix.Clear();
                prefix.Add(TokenAndId(path, element, type, "cls"));
                suffix.Add(TokenAndId(path, element, type, "sep"));
                break;
            default:
                throw new CheckpointException($"{path}: post_processor type '{type}' is not supported (Sequence, ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing are).");
        }
    }

    /// <summary>The id of a BertProcessing / RobertaProcessing "cls" or "sep": a [token, id] pair.</summary>
    private static int TokenAndId(string path, JsonElement processor, string type, string field) =>
        Get(processor, field) is { ValueKind: JsonValueKind.Array } pair && pair.GetArrayLength() == 2 && pair[0].ValueKind == JsonValueKind.String
        && pair[1].ValueKind == JsonValueKind.Number && pair[1].TryGetInt32(out int id)
            ? id
            : throw new CheckpointException($"{path}: {type} post_processor.{field} must be a [token, id] pair such as [\"<s>\", 1].");

    /// <summary>A JSON array of integer ids; <paramref name="field"/> names it in the error.</summary>
    private static int[] Ids(string path, JsonElement? element, string field)
    {
        if (element is not { ValueKind: JsonValueKind.Array } array)
            throw new CheckpointException($"{path}: {field} must be an array of integer ids.");
        var ids = new int[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
            ids[i++] = item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int id) ? id
                : throw new CheckpointException($"{path}: {field} must be an array of integer ids, but holds {item.GetRawText()}.");
        return ids;
    }

    /// <summary>
    /// BOS/EOS from the files beside the tokenizer: tokenizer_config.json (add_bos_token, add_eos_token, bos_token,
    /// eos_token, tokenizer_class), config.json and generation_config.json (bos_token_id, eos_token_id: int or list).
    /// </summary>
    private static void ApplySidecars(BpeDefinition definition, string directory, List<int> prefix, List<int> suffix) =>
        Reading(Path.Combine(directory, "tokenizer_config.json"), () => ReadSidecars(definition, directory, prefix, suffix));

    private static bool ReadSidecars(BpeDefinition definition, string directory, List<int> prefix, List<int> suffix)
    {
        using var tokenizerConfig = ParseOptional(Path.Combine(directory, "tokenizer_config.json"));
        using var config = ParseOptional(Path.Combine(directory, "config.json"));
        using var generation = ParseOptional(Path.Combine(directory, "generation_config.json"));
        var tc = tokenizerConfig?.RootElement;
        string source = Path.Combine(directory, "tokenizer_config.json");

        int? Lookup(string? token)
        {
            if (token is null) return null;
            foreach (var added in definition.AddedTokens)
                if (added.Content == token) return added.Id;
            return definition.Vocab.TryGetValue(token, out int id) ? id : null;
        }
        string? TokenName(string property) =>
            tc is { ValueKind: JsonValueKind.Object } t && Get(t, property) is { } value
                ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.ValueKind == JsonValueKind.Object ? String(value, "content") : null
                : null;
        // An id of a token that does not exist here is the sidecar's mistake: the error names it, not the tokenizer file.
        bool IsToken(int id) => definition.AddedTokens.Any(t => t.Id == id) || definition.Vocab.ContainsValue(id);
        List<int> Ids(string property)
        {
            var ids = new List<int>();
            foreach (var (document, name) in new[] { (config, "config.json"), (generation, "generation_config.json") })
            {
                if (document?.RootElement is not { ValueKind: JsonValueKind.Object } r || Get(r, property) is not { } value) continue;
                var found = new List<int>();
                if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int one)) found.Add(one);
                else if (value.ValueKind == JsonValueKind.Array)
                    foreach (var item in value.EnumerateArray())
                        if (item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int id)) found.Add(id);
                foreach (int id in found)
                    if (!IsToken(id))
                        throw new CheckpointException($"{Path.Combine(directory, name)}: {property} {id} is not the id of any token of the tokenizer.");
                ids.AddRange(found);
            }
            return ids.Distinct().ToList();
        }

        int? bos = Lookup(TokenName("bos_token")) ?? Ids("bos_token_id").Cast<int?>().FirstOrDefault();
        var eos = Ids("eos_token_id");
        if (eos.Count == 0 && Lookup(TokenName("eos_token")) is int eosFromConfig) eos.Add(eosFromConfig);
        if (eos.Count == 0)
            foreach (string name in new[] { "</s>", "<|endoftext|>", "<|end_of_text|>", "<|eot_id|>", "<eos>", "<|im_end|>" })
                if (Lookup(name) is int id)
                {
                    eos.Add(id);
                    break;
                }
        definition.EndOfSequence = eos;

        bool? addBos = tc is { ValueKind: JsonValueKind.Object } t1 ? Bool(t1, "add_bos_token") : null;
        bool? addEos = tc is { ValueKind: JsonValueKind.Object } t2 ? Bool(t2, "add_eos_token") : null;
        string? tokenizerClass = tc is { ValueKind: JsonValueKind.Object } t3 ? String(t3, "tokenizer_class") : null;
        // Llama's tokenizer adds <s> unless told otherwise.
        if (addBos is null && prefix.Count == 0 && tokenizerClass?.Contains("Llama", StringComparison.Ordinal) == true) addBos = true;

        if (addBos is bool b)
        {
            definition.Prefix = [];
            if (b) definition.Prefix.Add(bos ?? throw new CheckpointException($"{source}: add_bos_token is set but no bos_token (or bos_token_id) is in the vocabulary."));
        }
        if (addEos is bool e)
        {
            definition.Suffix = [];
            int? eosToken = Lookup(TokenName("eos_token")) ?? (eos.Count > 0 ? eos[0] : null);
            if (e) definition.Suffix.Add(eosToken ?? throw new CheckpointException($"{source}: add_eos_token is set but no eos_token is in the vocabulary."));
        }
        return true;
    }

    // ---- JSON helpers -------------------------------------------------------------------------------------------

    private static Dictionary<string, int> ReadVocab(string path) => Reading(path, () => ReadVocabEntries(path));

    private static Dictionary<string, int> ReadVocabEntries(string path)
    {
        using var document = ParseJson(path, FileText.Tokenizer);
        if (document.RootElement.ValueKind != JsonValueKind.Object) throw new CheckpointException($"{path}: expected a JSON object of token -> id.");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                throw new CheckpointException($"{path}: the id of '{entry.Name}' is not an integer.");
            vocab[entry.Name] = id;
        }
        return vocab;
    }

    private static string ReadText(string path, FileLimit limit)
    {
        try
        {
            return FileText.ReadText(path, limit);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new CheckpointException($"tokenizer file '{path}' not found.", e);
        }
    }

    private static JsonDocument ParseJson(string path, FileLimit limit)
    {
        string text = ReadText(path, limit);
        try
        {
            return JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    private static JsonDocument? ParseOptional(string path) => File.Exists(path) ? ParseJson(path, FileText.Metadata) : null;

    private static JsonElement? Get(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static string? String(JsonElement element, string name) => Get(element, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static bool? Bool(JsonElement element, string name) => Get(element, name) is { } v && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static int? Int(JsonElement element, string name) => Get(element, name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out int i) ? i : null;

    private static IEnumerable<JsonElement> Array(JsonElement element, string name) =>
        Get(element, name) is { ValueKind: JsonValueKind.Array } v ? v.EnumerateArray() : [];

    private static (System.Text.RegularExpressions.Regex? Regex, string Literal) ReadPattern(string path, JsonElement element)
    {
        if (Get(element, "pattern") is not { ValueKind: JsonValueKind.Object } pattern) throw new CheckpointException($"{path}: {String(element, "type")} needs a pattern.");
        if (String(pattern, "Regex") is { } regex) return (PreTokenizer.Pattern(regex), "");
        if (String(pattern, "String") is { } literal) return (null, literal);
        throw new CheckpointException($"{path}: a pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}.");
    }

    private static char Replacement(JsonElement element) => String(element, "replacement") is { Length: 1 } r ? r[0] : '▁';

    private static PreTokenizer.Metaspace.Prepend Prepend(JsonElement element) => String(element, "prepend_scheme") switch
    {
        "always" => PreTokenizer.Metaspace.Prepend.Always,
        "first" => PreTokenizer.Metaspace.Prepend.First,
        "never" => PreTokenizer.Metaspace.Prepend.Never,
        _ => Bool(element, "add_prefix_space") == false ? PreTokenizer.Metaspace.Prepend.Never : PreTokenizer.Metaspace.Prepend.Always,
    };
}
