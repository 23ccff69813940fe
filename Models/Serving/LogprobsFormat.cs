using System.Text;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>How tokens are named in logprobs: their text, and their bytes.</summary>
internal sealed class LogprobsFormat(ITokenizer tokenizer)
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The token's text: its bytes as UTF-8, or, for a token that is part of a character, "bytes:\xNN..." (as OpenAI
    /// writes such tokens). Special tokens are their text (e.g. "&lt;/s&gt;").
    /// </summary>
    public string Text(int id)
    {
        var bytes = tokenizer.TokenBytes(id);
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            var text = new StringBuilder("bytes:");
            foreach (byte b in bytes) text.Append($"\\x{b:x2}");
            return text.ToString();
        }
    }

    /// <summary>The token's bytes, as OpenAI's <c>bytes</c> lists them (integers).</summary>
    public int[] Bytes(int id)
    {
        var bytes = tokenizer.TokenBytes(id);
        var values = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) values[i] = bytes[i];
        return values;
    }

    /// <summary>
    /// Where each token's text starts in a text that begins at <paramref name="start"/>: the tokens decoded one after the
    /// other after <paramref name="context"/> (as a stream shows them: a token that ends a character, or a special token
    /// that decodes to nothing, moves the offset by what it adds). The legacy completions' text_offset.
    /// </summary>
    public int[] TextOffsets(ReadOnlySpan<int> context, IReadOnlyList<int> ids, int start)
    {
        var decoder = new StreamingDecoder(tokenizer);
        decoder.Add(context);
        var offsets = new int[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            offsets[i] = start;
            start += decoder.Add(ids[i]).Length;
        }
        return offsets;
    }

    /// <summary>JSON has no infinity: a token the model rules out is written -9999, as vLLM and OpenAI write it.</summary>
    public static double Finite(double logprob) => Math.Max(logprob, -9999.0);
}
