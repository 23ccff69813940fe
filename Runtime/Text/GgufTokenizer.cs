using Tessera.Checkpoints;

namespace Tessera.Text;

/// <summary>
/// The tokenizer a GGUF file carries in its metadata (tokenizer.ggml.*), as llama.cpp's converter writes it from a
/// Hugging Face tokenizer: model "gpt2" is a byte-level BPE (tokens, merges, the pre-tokenizer named by
/// tokenizer.ggml.pre), control and user-defined tokens are added tokens, and BOS is prepended when add_bos_token says.
/// </summary>
internal static class GgufTokenizer
{
    /// <summary>llama.cpp's pre-tokenizer names and the regex each splits by (llama-vocab.cpp); "default" is GPT-2's own.</summary>
    private static readonly Dictionary<string, string> Patterns = new(StringComparer.Ordinal)
    {
        ["llama-bpe"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ["llama3"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ["qwen2"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    };

    /// <summary>llama.cpp's token types (llama_token_type).</summary>
    private const long Control = 3, UserDefined = 4;

    public static BpeTokenizer Load(GgufFile file)
    {
        var meta = file.Metadata;
        string source = file.Path + " (GGUF tokenizer)";
        string model = meta.TryGetValue("tokenizer.ggml.model", out var m) && m is string s ? s
            : throw new CheckpointException($"{file.Path}: the GGUF file has no tokenizer (no tokenizer.ggml.model): give token ids (--tokens).");
        if (model != "gpt2")
            throw new CheckpointException($"{file.Path}: tokenizer.ggml.model is {FileText.Quoted(model)}; Tessera reads the byte-level BPE (\"gpt2\") tokenizers of GGUF files (Llama 3, Qwen, GPT-2), not SentencePiece (\"llama\") ones yet: give token ids (--tokens).");
        var tokens = meta.TryGetValue("tokenizer.ggml.tokens", out var t) && t is string[] list ? list
            : throw new CheckpointException($"{file.Path}: tokenizer.ggml.tokens is missing or not a list of strings.");
        var merges = meta.TryGetValue("tokenizer.ggml.merges", out var mg) && mg is string[] ml ? ml
            : throw new CheckpointException($"{file.Path}: a \"gpt2\" tokenizer needs tokenizer.ggml.merges.");
        long[] types = meta.TryGetValue("tokenizer.ggml.token_type", out var ty) && ty is long[] tl && tl.Length == tokens.Length ? tl : new long[tokens.Length];

        var vocab = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) vocab.TryAdd(tokens[i], i);
        var pairs = new List<(string, string)>(merges.Length);
        foreach (var merge in merges)
        {
            int space = merge.IndexOf(' ', 1);
            if (space <= 0 || space == merge.Length - 1)
                throw new CheckpointException($"{file.Path}: tokenizer.ggml.merges holds {FileText.Quoted(merge)}, not two tokens separated by a space.");
            pairs.Add((merge[..space], merge[(space + 1)..]));
        }

        string pre = meta.TryGetValue("tokenizer.ggml.pre", out var p) && p is string ps ? ps : "default";
        var definition = new BpeDefinition
        {
            Source = source,
            Vocab = vocab,
            Merges = pairs,
            ByteLevelInput = true,
            TokenToBytes = ByteLevel.Decode,
        };
        // What the Hugging Face tokenizers these names stand for do besides the split (llama.cpp's llama-vocab.cpp
        // keeps Llama 3's ignore_merges too): Llama 3 takes a word that is a token whole; Qwen normalizes to NFC.
        if (pre is "llama-bpe" or "llama3") definition.IgnoreMerges = true;
        if (pre == "qwen2") definition.Normalizer = new Normalizer.Unicode(System.Text.NormalizationForm.FormC);
        if (Patterns.TryGetValue(pre, out var pattern))
        {
            definition.PreTokenizers.Add(new PreTokenizer.RegexSplit(PreTokenizer.Pattern(pattern), PreTokenizer.Behavior.Isolated, source));
            definition.PreTokenizers.Add(new PreTokenizer.ByteLevelSplit(addPrefixSpace: false, useRegex: false, source));
        }
        else if (pre is "default" or "gpt-2" or "gpt2")
        {
            definition.PreTokenizers.Add(new PreTokenizer.ByteLevelSplit(addPrefixSpace: false, useRegex: true, source));
        }
        else
        {
            throw new CheckpointException($"{file.Path}: tokenizer.ggml.pre is {FileText.Quoted(pre)}, a pre-tokenizer Tessera does not know (it knows {string.Join(", ", Patterns.Keys)}, default).");
        }
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] is Control or UserDefined) definition.AddedTokens.Add(new AddedToken(i, tokens[i], Special: types[i] == Control));

        int? Id(string key) => meta.TryGetValue(key, out var v) && v is long id && id >= 0 && id < tokens.Length ? (int)id : null;
        bool addBos = meta.TryGetValue("tokenizer.ggml.add_bos_token", out var ab) && ab is true;
        if (addBos && Id("tokenizer.ggml.bos_token_id") is { } bos) definition.Prefix.Add(bos);
        if (Id("tokenizer.ggml.eos_token_id") is { } eos) definition.EndOfSequence.Add(eos);
        if (Id("tokenizer.ggml.eot_token_id") is { } eot && !definition.EndOfSequence.Contains(eot)) definition.EndOfSequence.Add(eot);
        return new BpeTokenizer(definition);
    }
}
