using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Text;

/// <summary>
/// A BPE tokenizer: GPT-2 byte-level BPE (vocab.json + merges.txt), and Hugging Face tokenizer.json BPE models, either
/// byte-level (GPT-2, Llama 3) or over characters with byte fallback (Llama 2 / SentencePiece conversions).
/// Encoding: added tokens are split out of the text, each remaining segment is normalized, pre-tokenized into pieces,
/// and every piece is merged by rank (pieces are cached). Immutable and thread-safe.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _tokens;
    private readonly byte[][] _bytes;
    private readonly bool[] _special;
    private readonly BpeMerges _merges;
    private readonly Normalizer? _normalizer;
    private readonly IReadOnlyList<PreTokenizer> _preTokenizers;
    private readonly AddedToken[] _added;
    private readonly Regex? _addedPattern;
    private readonly string _source;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly int[] _byteSymbols;       // byte-level: id of each byte's token, -1 if absent
    private readonly int[] _fallbackSymbols;   // byte fallback: id of <0xNN>, -1 if absent
    private readonly int? _unk;
    private readonly bool _fuseUnk;
    private readonly bool _ignoreMerges;
    private readonly int[] _prefix;
    private readonly int[] _suffix;
    private readonly int[] _eos;
    private readonly PieceCache _cache = new();

    /// <summary>Ids past the tokens present that a vocabulary may leave unused (real vocabularies are dense).</summary>
    private const int MaxIdHoles = 1024;

    private static int CheckedId(string source, string what, int id, long present, long limit) =>
        id < 0 ? throw new Checkpoints.CheckpointException($"{source}: {what} has a negative id {id}.")
        : id >= limit ? throw new Checkpoints.CheckpointException($"{source}: {what} has id {id}, but the tokenizer holds {present} tokens: ids must be below {limit}.")
        : id;

    /// <summary>A token (or pattern) as messages show it: control characters escaped, at most <paramref name="length"/> characters.</summary>
    internal static string Printable(string token, int length = 40)
    {
        var text = new System.Text.StringBuilder();
        foreach (char c in token.Length > length ? token[..length] : token)
            text.Append(char.IsControl(c) || char.IsSurrogate(c) ? $"\\u{(int)c:x4}" : c.ToString());
        return token.Length > length ? text + "..." : text.ToString();
    }

    internal BpeTokenizer(BpeDefinition definition)
    {
        _vocab = definition.Vocab;
        _source = definition.Source;
        ByteLevelInput = definition.ByteLevelInput;
        DecodeStripsLeadingSpace = definition.StripLeadingSpace;
        _normalizer = definition.Normalizer;
        _preTokenizers = definition.PreTokenizers;
        _added = definition.AddedTokens.ToArray();
        _fuseUnk = definition.FuseUnk;
        _ignoreMerges = definition.IgnoreMerges;

        // Ids index arrays of the vocabulary's size, so they are bounded by the tokens actually present (with room for a
        // few holes): a 2 KB file naming id 1e9 must not make the tokenizer allocate gigabytes, nor 2^31-1 overflow.
        long present = _vocab.Count + _added.Length, limit = present + MaxIdHoles;
        int size = 0;
        foreach (var (token, id) in _vocab) size = Math.Max(size, CheckedId(definition.VocabSource ?? definition.Source, $"token '{Printable(token)}'", id, present, limit) + 1);
        foreach (var token in _added) size = Math.Max(size, CheckedId(definition.Source, $"added token '{Printable(token.Content)}'", token.Id, present, limit) + 1);
        VocabSize = size;

        _tokens = new string?[size];
        foreach (var (token, id) in _vocab) _tokens[id] = token;
        _special = new bool[size];
        _addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var token in _added)
        {
            if (token.Content.Length == 0) throw new Checkpoints.CheckpointException($"{definition.Source}: added token {token.Id} is empty.");
            _tokens[token.Id] = token.Content;
            _special[token.Id] = token.Special;
            _addedByContent[token.Content] = token;
        }
        if (_addedByContent.Count > 0)
        {
            // Longest first, so that a token that is a prefix of another never wins at the same position.
            var alternatives = _addedByContent.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape);
            _addedPattern = new Regex(string.Join("|", alternatives), RegexOptions.CultureInvariant, PatternTimeout.PerMatch);
        }

        // Raw bytes of every token, for decoding (added tokens: their text, unless the decoder maps them too).
        var addedAsText = definition.DecodeAddedTokens ? [] : _added.Select(t => t.Id).ToHashSet();
        _bytes = new byte[size][];
        for (int id = 0; id < size; id++)
        {
            string? token = _tokens[id];
            if (token is null) _bytes[id] = [];
            else if (addedAsText.Contains(id)) _bytes[id] = Encoding.UTF8.GetBytes(token);
            else _bytes[id] = definition.TokenToBytes(token);
        }

        _byteSymbols = new int[256];
        _fallbackSymbols = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteSymbols[b] = _vocab.TryGetValue(ByteLevel.ToChar((byte)b).ToString(), out int id) ? id : -1;
            _fallbackSymbols[b] = definition.ByteFallback && _vocab.TryGetValue($"<0x{b:X2}>", out int fb) ? fb : -1;
        }
        if (definition.UnkToken is { } unk)
        {
            if (!_vocab.TryGetValue(unk, out int unkId) && !_addedByContent.TryGetValue(unk, out var unkAdded))
                throw new Checkpoints.CheckpointException($"{definition.Source}: unk_token '{unk}' is not in the vocabulary.");
            else _unk = _vocab.TryGetValue(unk, out unkId) ? unkId : _addedByContent[unk].Id;
        }

        _merges = BuildMerges(definition);
        _prefix = definition.Prefix.ToArray();
        _suffix = definition.Suffix.ToArray();
        _eos = definition.EndOfSequence.Distinct().ToArray();
        foreach (int id in _prefix.Concat(_suffix).Concat(_eos))
            if (id < 0 || id >= size)
                throw new Checkpoints.CheckpointException($"{definition.Source}: special token id {id} is outside the vocabulary (size {size}).");
        MergeCount = _merges.Count;
    }

    private BpeMerges BuildMerges(BpeDefinition definition)
    {
        var merges = new List<(int Left, int Right, int Result)>(definition.Merges.Count);
        for (int rank = 0; rank < definition.Merges.Count; rank++)
        {
            var (left, right) = definition.Merges[rank];
            if (!_vocab.TryGetValue(left, out int a) || !_vocab.TryGetValue(right, out int b))
                throw new Checkpoints.CheckpointException($"{definition.Source}: merge {rank} ('{left}' '{right}') uses a token that is not in the vocabulary.");
            if (!_vocab.TryGetValue(left + right, out int merged))
                throw new Checkpoints.CheckpointException($"{definition.Source}: merge {rank} ('{left}' '{right}') makes '{left + right}', which is not in the vocabulary.");
            merges.Add((a, b, merged));
        }
        return new BpeMerges(merges);
    }

    /// <summary>For tests: the pieces cached now and their approximate bytes.</summary>
    internal (int Count, long Bytes) CacheUsage() => _cache.Usage();

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <inheritdoc/>
    public int? BeginOfSequence => _prefix.Length > 0 ? _prefix[0] : null;

    /// <inheritdoc/>
    public IReadOnlyList<int> EndOfSequence => _eos;

    /// <summary>Ids added before the text when <c>addSpecialTokens</c> is set (usually just BOS).</summary>
    public IReadOnlyList<int> Prefix => _prefix;

    /// <summary>Ids added after the text when <c>addSpecialTokens</c> is set (usually none).</summary>
    public IReadOnlyList<int> Suffix => _suffix;

    /// <summary>Whether text is cut into UTF-8 bytes before merging (GPT-2, Llama 3), rather than into characters (Llama 2).</summary>
    public bool ByteLevelInput { get; }

    /// <summary>Whether decoding drops one leading space (SentencePiece's prefix ▁).</summary>
    public bool DecodeStripsLeadingSpace { get; }

    /// <summary>How the merge table hashes its pair keys (for tests).</summary>
    internal IEqualityComparer<long> MergeKeyComparer => _merges.Comparer;

    /// <summary>How many merges the model holds.</summary>
    public int MergeCount { get; }

    /// <summary>The added tokens (special and not).</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _added;

    /// <summary>The token string of an id as the vocabulary writes it (byte-level alphabet, ▁, &lt;0xNN&gt;), or null for a hole.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    /// <summary>The id of a token string as the vocabulary writes it, or null.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out var added) ? added.Id : _vocab.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc/>
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <inheritdoc/>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        if ((uint)id >= (uint)_bytes.Length)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is outside the vocabulary (size {VocabSize}).");
        return _bytes[id];
    }

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(_prefix);

        var pieces = new List<Piece>();
        var scratch = new List<Piece>();
        int last = 0;
        if (_addedPattern is not null)
        {
            for (var match = NextAddedToken(text, null); match.Success; match = NextAddedToken(text, match))
            {
                var token = _addedByContent[match.Value];
                int start = match.Index, end = match.Index + match.Length;
                if (start < last) continue;
                int before = start;
                if (token.LeftStrip) while (before > last && char.IsWhiteSpace(text[before - 1])) before--;
                EncodeSegment(text, last, before, ids, pieces, scratch);
                ids.Add(token.Id);
                if (token.RightStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
                last = end;
            }
        }
        EncodeSegment(text, last, text.Length, ids, pieces, scratch);

        if (addSpecialTokens) ids.AddRange(_suffix);
        return ids.ToArray();
    }

    /// <summary>The first (<paramref name="previous"/> null) or next added token in the text; the pattern is an alternation of literals, so its time limit is only a backstop.</summary>
    private Match NextAddedToken(string text, Match? previous)
    {
        try
        {
            return previous is null ? _addedPattern!.Match(text) : previous.NextMatch();
        }
        catch (RegexMatchTimeoutException e)
        {
            throw PatternTimeout.Error(_source, "added-token", e, text.Length);
        }
    }

    private void EncodeSegment(string text, int start, int end, List<int> ids, List<Piece> pieces, List<Piece> scratch)
    {
        if (end <= start) return;
        string segment = text[start..end];
        if (_normalizer is not null) segment = _normalizer.Apply(segment);
        if (segment.Length == 0) return;
        pieces.Clear();
        pieces.Add(new Piece(segment, start == 0));
        foreach (var step in _preTokenizers) step.Apply(pieces, scratch);
        foreach (var piece in pieces)
        {
            if (piece.Text.Length == 0) continue;
            if (!_cache.TryGet(piece.Text, out var merged))
            {
                merged = EncodePiece(piece.Text);
                _cache.Add(piece.Text, merged);
            }
            ids.AddRange(merged);
        }
    }

    private int[] EncodePiece(string piece)
    {
        var symbols = new List<int>(piece.Length * 2);
        if (ByteLevelInput)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(piece);
            if (_ignoreMerges && _vocab.TryGetValue(ByteLevel.Encode(bytes), out int whole)) return [whole];
            foreach (byte b in bytes)
            {
                int id = _byteSymbols[b];
                if (id >= 0) symbols.Add(id);
                else AddUnknown(symbols);
            }
        }
        else
        {
            if (_ignoreMerges && _vocab.TryGetValue(piece, out int whole)) return [whole];
            Span<byte> utf8 = stackalloc byte[4];
            for (int i = 0; i < piece.Length; i++)
            {
                int width = char.IsHighSurrogate(piece[i]) && i + 1 < piece.Length && char.IsLowSurrogate(piece[i + 1]) ? 2 : 1;
                string symbol = piece.Substring(i, width);
                i += width - 1;
                if (_vocab.TryGetValue(symbol, out int id))
                {
                    symbols.Add(id);
                    continue;
                }
                int n = Encoding.UTF8.GetBytes(symbol, utf8);
                bool all = true;
                for (int k = 0; k < n; k++) all &= _fallbackSymbols[utf8[k]] >= 0;
                if (all && n > 0)
                    for (int k = 0; k < n; k++) symbols.Add(_fallbackSymbols[utf8[k]]);
                else AddUnknown(symbols);
            }
        }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(symbols);
        int count = _merges.Apply(span);
        return span[..count].ToArray();
    }

    private void AddUnknown(List<int> symbols)
    {
        if (_unk is not int unk) return; // no unk token: the character is dropped, as Hugging Face does
        if (_fuseUnk && symbols.Count > 0 && symbols[^1] == unk) return;
        symbols.Add(unk);
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Length * 4);
        bool started = false;
        foreach (int id in ids)
        {
            var token = TokenBytes(id);
            if (skipSpecialTokens && _special[id]) continue;
            if (!started && token.Length > 0)
            {
                started = true;
                if (DecodeStripsLeadingSpace && token[0] == (byte)' ') token = token[1..];
            }
            foreach (byte b in token) bytes.Add(b);
        }
        return Utf8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>UTF-8 with U+FFFD for invalid bytes (never throws).</summary>
    internal static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    /// <summary>Loads GPT-2's vocab.json + merges.txt (see <see cref="Tokenizers.LoadGpt2"/>).</summary>
    public static BpeTokenizer FromGpt2Files(string vocabJsonPath, string mergesPath) => Tokenizers.LoadGpt2(vocabJsonPath, mergesPath);

    /// <summary>Loads a Hugging Face tokenizer.json (see <see cref="Tokenizers.LoadTokenizerJson"/>).</summary>
    public static BpeTokenizer FromTokenizerJson(string tokenizerJsonPath) => Tokenizers.LoadTokenizerJson(tokenizerJsonPath);
}
