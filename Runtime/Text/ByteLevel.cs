using System.Text;

namespace Tessera.Text;

/// <summary>
/// GPT-2's reversible byte-to-character mapping (<c>bytes_to_unicode</c>): printable Latin-1 bytes map to themselves, the
/// other 68 bytes (controls, space, 0x7F-0xA0, 0xAD) to U+0100 onwards, so that every byte sequence is a string of
/// visible characters (space becomes 'Ġ', newline 'Ċ'). Byte-level vocabularies and merges are written in this alphabet.
/// </summary>
public static class ByteLevel
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>GPT-2's pre-tokenisation pattern.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama 3's (tiktoken cl100k-style) pre-tokenisation pattern.</summary>
    public const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>The character that stands for <paramref name="value"/>.</summary>
    public static char ToChar(byte value) => ByteToChar[value];

    /// <summary>The byte a mapped character stands for, or false when the character is not in the mapping.</summary>
    public static bool TryToByte(char c, out byte value) => CharToByte.TryGetValue(c, out value);

    /// <summary>Maps bytes to their characters ("hi there" -> "hiĠthere").</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++) span[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to characters.</summary>
    public static string Encode(string text) => Encode(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// The bytes a byte-level token string stands for; characters outside the mapping (which a byte-level vocabulary
    /// should not hold) contribute their own UTF-8 bytes.
    /// </summary>
    public static byte[] Decode(string mapped)
    {
        var bytes = new List<byte>(mapped.Length);
        Span<byte> scratch = stackalloc byte[4];
        for (int i = 0; i < mapped.Length; i++)
        {
            if (CharToByte.TryGetValue(mapped[i], out byte b))
            {
                bytes.Add(b);
                continue;
            }
            int width = char.IsHighSurrogate(mapped[i]) && i + 1 < mapped.Length && char.IsLowSurrogate(mapped[i + 1]) ? 2 : 1;
            int n = Encoding.UTF8.GetBytes(mapped.AsSpan(i, width), scratch);
            for (int k = 0; k < n; k++) bytes.Add(scratch[k]);
            i += width - 1;
        }
        return bytes.ToArray();
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int extra = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + extra++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[ByteToChar[b]] = (byte)b;
        return map;
    }
}
