using System.Text;
using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Generation.Grammars;

/// <summary>
/// Character classes as byte grammars: a range of code points becomes the alternatives of byte-class sequences that
/// match exactly its valid UTF-8 encodings (no overlongs, no surrogates), so a matcher working on bytes accepts a
/// character split across tokens and refuses invalid UTF-8.
/// </summary>
public static class Utf8
{
    /// <summary>One character in [<paramref name="first"/>, <paramref name="last"/>] (code points; surrogates excluded).</summary>
    public static GrammarExpression Chars(int first, int last)
    {
        if (first < 0 || last > 0x10FFFF || first > last)
            throw new ArgumentOutOfRangeException(nameof(first), $"a code point range needs 0 <= first <= last <= 0x10FFFF (got {first:X}-{last:X}).");
        var sequences = new List<GrammarExpression>();
        Split(first, last, sequences);
        return Either(sequences);
    }

    /// <summary>Any one character (code point) except the ASCII bytes of <paramref name="excludedAscii"/>.</summary>
    public static GrammarExpression AnyCharExcept(ByteSet excludedAscii) =>
        Either(OneOf(ByteSet.Range(0, 0x7F).Except(excludedAscii)), Chars(0x80, 0x10FFFF));

    private static void Split(int first, int last, List<GrammarExpression> into)
    {
        if (first <= 0xDFFF && last >= 0xD800)
        {
            // Surrogates have no UTF-8 encoding.
            if (first < 0xD800) Split(first, 0xD7FF, into);
            if (last > 0xDFFF) Split(0xE000, last, into);
            return;
        }
        foreach (int boundary in (ReadOnlySpan<int>)[0x7F, 0x7FF, 0xFFFF])
            if (first <= boundary && last > boundary)
            {
                // Ranges of one encoded length at a time.
                Split(first, boundary, into);
                Split(boundary + 1, last, into);
                return;
            }
        if (last <= 0x7F)
        {
            into.Add(OneOf(ByteSet.Range((byte)first, (byte)last)));
            return;
        }
        for (int i = 1; i < 4; i++)
        {
            // Align to continuation-byte boundaries so that each byte position varies over a plain range.
            int m = (1 << (6 * i)) - 1;
            if ((first & ~m) == (last & ~m)) continue;
            if ((first & m) != 0)
            {
                Split(first, first | m, into);
                Split((first | m) + 1, last, into);
                return;
            }
            if ((last & m) != m)
            {
                Split(first, (last & ~m) - 1, into);
                Split(last & ~m, last, into);
                return;
            }
        }
        byte[] low = Encode(first), high = Encode(last);
        into.Add(Seq(low.Select((b, i) => OneOf(ByteSet.Range(b, high[i])))));
    }

    private static byte[] Encode(int codePoint) => Encoding.UTF8.GetBytes(char.ConvertFromUtf32(codePoint));
}
