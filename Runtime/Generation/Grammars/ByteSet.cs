using System.Text;

namespace Tessera.Generation.Grammars;

/// <summary>A set of byte values (256 bits): what one terminal of a <see cref="Grammar"/> matches.</summary>
public readonly record struct ByteSet(ulong Bits0, ulong Bits1, ulong Bits2, ulong Bits3)
{
    /// <summary>The bytes in [<paramref name="first"/>, <paramref name="last"/>].</summary>
    public static ByteSet Range(byte first, byte last)
    {
        var set = new ByteSet();
        for (int b = first; b <= last; b++) set = set.With((byte)b);
        return set;
    }

    /// <summary>The given bytes.</summary>
    public static ByteSet Of(params ReadOnlySpan<byte> bytes)
    {
        var set = new ByteSet();
        foreach (byte b in bytes) set = set.With(b);
        return set;
    }

    /// <summary>The given ASCII characters.</summary>
    public static ByteSet Of(string ascii) => Of(Encoding.ASCII.GetBytes(ascii));

    public bool Contains(byte b) => ((b >> 6) switch { 0 => Bits0, 1 => Bits1, 2 => Bits2, _ => Bits3 } >> (b & 63) & 1) != 0;

    public bool IsEmpty => (Bits0 | Bits1 | Bits2 | Bits3) == 0;

    public ByteSet With(byte b) => (b >> 6) switch
    {
        0 => this with { Bits0 = Bits0 | 1UL << b },
        1 => this with { Bits1 = Bits1 | 1UL << (b & 63) },
        2 => this with { Bits2 = Bits2 | 1UL << (b & 63) },
        _ => this with { Bits3 = Bits3 | 1UL << (b & 63) },
    };

    public ByteSet Union(ByteSet other) => new(Bits0 | other.Bits0, Bits1 | other.Bits1, Bits2 | other.Bits2, Bits3 | other.Bits3);

    public ByteSet Except(ByteSet other) => new(Bits0 & ~other.Bits0, Bits1 & ~other.Bits1, Bits2 & ~other.Bits2, Bits3 & ~other.Bits3);

    /// <summary>GBNF-style: [a-z\x80-\xBF].</summary>
    public override string ToString()
    {
        var text = new StringBuilder("[");
        for (int b = 0; b < 256; b++)
        {
            if (!Contains((byte)b)) continue;
            int last = b;
            while (last < 255 && Contains((byte)(last + 1))) last++;
            text.Append(Show(b));
            if (last > b) text.Append('-').Append(Show(last));
            b = last;
        }
        return text.Append(']').ToString();

        static string Show(int b) => b is >= 0x21 and < 0x7F and not '\\' and not ']' and not '-' and not '^' ? ((char)b).ToString() : $"\\x{b:X2}";
    }
}
