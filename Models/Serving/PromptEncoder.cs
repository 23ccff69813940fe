using System.Text;
using Tessera.Checkpoints;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// Turns a request's prompt text into ids, the one way the server does: first the bound on how much text a prompt of
/// this model can be, decided before the text is tokenized (tokenizing 29 MB costs the server most of a gigabyte, and
/// so the bound also sets how large a request body the server reads), then the tokenizer, whose refusals are 400s.
/// </summary>
/// <remarks>
/// Every token stands for at most the bytes of the longest token the tokenizer has (<see cref="ITokenizer.TokenBytes"/>),
/// so a prompt that fits the context is at most context x longest bytes of tokenized text. Normalizers may shorten text
/// before tokens are cut (NFC composes a decomposed Hangul syllable's 9 bytes into 3, NFKC a ligature's parts), so the
/// bound allows <see cref="NormalizationSlack"/> times that. A text past it cannot fit the context whatever it says: it is
/// refused with the context's 400 without being tokenized. Text the normalizer deletes outright (control characters) is
/// not counted on: such a prompt is refused as too long, which it would be to any reader of its bytes.
/// </remarks>
internal sealed class PromptEncoder
{
    /// <summary>How many times shorter normalized text may be than the text sent.</summary>
    public const int NormalizationSlack = 4;

    /// <summary>
    /// Bytes a body takes per byte of prompt text at worst: JSON escapes a control character as \u001f (6 bytes).
    /// A body of token ids takes at most 12 bytes per id ("2147483647, "), which the text bound already exceeds.
    /// </summary>
    public const int JsonEscapeBytes = 6;

    /// <summary>Room for everything in a body besides the prompt: the other fields, tool definitions, JSON schemas.</summary>
    public const long OtherFieldsBytes = 1 << 20;

    private readonly ITokenizer _tokenizer;

    public PromptEncoder(ITokenizer tokenizer, int contextLength)
    {
        _tokenizer = tokenizer;
        int longest = 1;
        for (int id = 0; id < tokenizer.VocabSize; id++) longest = Math.Max(longest, tokenizer.TokenBytes(id).Length);
        ContextLength = contextLength;
        MaxTextBytes = (long)contextLength * longest * NormalizationSlack;
        MaxBodyBytes = MaxTextBytes * JsonEscapeBytes + OtherFieldsBytes;
    }

    public int ContextLength { get; }

    /// <summary>The most UTF-8 bytes a prompt's text may have (see the remarks).</summary>
    public long MaxTextBytes { get; }

    /// <summary>The largest request body the server reads: a prompt of <see cref="MaxTextBytes"/>, all escaped, and the other fields.</summary>
    public long MaxBodyBytes { get; }

    /// <summary>The 400 a prompt too long for the context gets, before it is tokenized.</summary>
    public void Check(string text, string param)
    {
        // Counting stops early: a text past the bound in UTF-16 units alone needs no count.
        if (text.Length > MaxTextBytes || Encoding.UTF8.GetByteCount(text) > MaxTextBytes)
            throw new ApiException(400,
                $"This model's maximum context length is {ContextLength} tokens, and the prompt's {Encoding.UTF8.GetByteCount(text)} bytes of text are more than {MaxTextBytes} bytes, which no prompt of {ContextLength} tokens exceeds.",
                param, "context_length_exceeded");
    }

    /// <summary>
    /// The text's ids. The tokenizer refuses what it cannot do in bounded time (a checkpoint regex that backtracks past
    /// its limit on this text): that request gets a 400 and nobody else notices.
    /// </summary>
    public int[] Encode(string text, string param, bool addSpecialTokens = true)
    {
        Check(text, param);
        try
        {
            return _tokenizer.Encode(text, addSpecialTokens);
        }
        catch (CheckpointException e)
        {
            throw new ApiException(400, $"The text could not be tokenized: {e.Message}", param, "tokenization_failed");
        }
    }
}
