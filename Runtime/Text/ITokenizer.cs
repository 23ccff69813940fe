namespace Tessera.Text;

/// <summary>
/// Text to token ids and back, as the checkpoint's tokenizer defines them (GPT-2 byte-level BPE, Hugging Face
/// tokenizer.json with byte-level BPE or BPE with byte fallback). Implementations are immutable and thread-safe.
/// </summary>
public interface ITokenizer
{
    /// <summary>Ids are in [0, VocabSize) (added special tokens included).</summary>
    int VocabSize { get; }

    /// <summary>The id prepended when <c>addSpecialTokens</c> is set and the tokenizer adds one (Llama's &lt;s&gt;), else null.</summary>
    int? BeginOfSequence { get; }

    /// <summary>Ids that end a generation (eos, and e.g. Llama 3's &lt;|eot_id|&gt;).</summary>
    IReadOnlyList<int> EndOfSequence { get; }

    /// <summary>Encodes text; special-token strings in the text (e.g. "&lt;|endoftext|&gt;") become their ids.</summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids; bytes that are not valid UTF-8 become U+FFFD. Special tokens are dropped when <paramref name="skipSpecialTokens"/>.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);

    /// <summary>The raw bytes of one token (byte-level tokens map to their bytes; special tokens to their UTF-8 text).</summary>
    ReadOnlySpan<byte> TokenBytes(int id);

    /// <summary>Whether the id is a special (added/control) token.</summary>
    bool IsSpecial(int id);
}
