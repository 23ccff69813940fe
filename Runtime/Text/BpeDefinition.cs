namespace Tessera.Text;

/// <summary>Everything a <see cref="BpeTokenizer"/> is built from; filled by the loaders.</summary>
internal sealed class BpeDefinition
{
    public required string Source { get; init; }

    /// <summary>The file the vocabulary came from when it is not <see cref="Source"/> (GPT-2's vocab.json beside merges.txt).</summary>
    public string? VocabSource { get; init; }
    public required Dictionary<string, int> Vocab { get; init; }
    public required IReadOnlyList<(string Left, string Right)> Merges { get; init; }
    public List<AddedToken> AddedTokens { get; init; } = [];
    public Normalizer? Normalizer { get; set; }
    public List<PreTokenizer> PreTokenizers { get; init; } = [];
    public bool ByteLevelInput { get; set; }
    public bool ByteFallback { get; set; }
    public string? UnkToken { get; set; }
    public bool FuseUnk { get; set; }
    public bool IgnoreMerges { get; set; }
    public bool StripLeadingSpace { get; set; }
    public List<int> Prefix { get; set; } = [];
    public List<int> Suffix { get; set; } = [];
    public List<int> EndOfSequence { get; set; } = [];

    /// <summary>How a vocabulary token turns into bytes (the decoder): byte-level alphabet, or ▁ replacement and &lt;0xNN&gt;.</summary>
    public required Func<string, byte[]> TokenToBytes { get; set; }

    /// <summary>
    /// Whether added tokens go through <see cref="TokenToBytes"/> too (else they are their own UTF-8 text). Hugging Face
    /// runs every token through the decoder; only its ByteLevel decoder passes added tokens through as they are. So a
    /// Replace ▁ -> space decoder makes Gemma's added whitespace tokens ("▁▁", "▁▁▁", ...) spaces.
    /// </summary>
    public bool DecodeAddedTokens { get; set; }
}
