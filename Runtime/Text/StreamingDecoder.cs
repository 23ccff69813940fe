using System.Text;

namespace Tessera.Text;

/// <summary>
/// Decodes one sequence a token at a time for streaming output: <see cref="Add"/> returns the text completed by that
/// token, holding back the bytes of a UTF-8 character that later tokens finish (byte-level and byte-fallback tokens
/// can split a character). The concatenation of every <see cref="Add"/> and the final <see cref="Flush"/> equals
/// <see cref="ITokenizer.Decode"/> of all the ids. One instance per sequence; not thread-safe.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly bool _stripLeadingSpace;
    private readonly Decoder _utf8 = BpeTokenizer.Utf8.GetDecoder();
    private bool _started;
    private char[] _chars = new char[64];

    public StreamingDecoder(ITokenizer tokenizer, bool skipSpecialTokens = true)
    {
        _tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        _skipSpecialTokens = skipSpecialTokens;
        _stripLeadingSpace = tokenizer is BpeTokenizer { DecodeStripsLeadingSpace: true };
    }

    /// <summary>How many ids were added since the start (or the last <see cref="Reset"/>).</summary>
    public int Count { get; private set; }

    /// <summary>Adds one id; returns the text it completes (possibly empty, possibly several characters).</summary>
    public string Add(int id)
    {
        var bytes = _tokenizer.TokenBytes(id);
        Count++;
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id)) return "";
        if (!_started && bytes.Length > 0)
        {
            _started = true;
            if (_stripLeadingSpace && bytes[0] == (byte)' ') bytes = bytes[1..];
        }
        return Convert(bytes, flush: false);
    }

    /// <summary>Adds several ids; returns the text they complete.</summary>
    public string Add(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        foreach (int id in ids) text.Append(Add(id));
        return text.ToString();
    }

    /// <summary>Ends the sequence: bytes still held back (an unfinished character) come out as U+FFFD.</summary>
    public string Flush()
    {
        string text = Convert([], flush: true);
        _utf8.Reset();
        return text;
    }

    /// <summary>Starts a new sequence.</summary>
    public void Reset()
    {
        _utf8.Reset();
        _started = false;
        Count = 0;
    }

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        int needed = _utf8.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int count = _utf8.GetChars(bytes, _chars, flush);
        return count == 0 ? "" : new string(_chars, 0, count);
    }
}
