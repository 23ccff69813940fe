using System.Text;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>
/// A test double for <see cref="ITokenizer"/>: ids 0-255 are bytes, 256 is &lt;s&gt;, 257 is &lt;/s&gt;. Multi-byte
/// characters span several tokens, which is what the streaming tests need.
/// </summary>
public sealed class ByteTokenizer(int vocabSize = 300) : ITokenizer
{
    public const int Bos = 256, Eos = 257;

    public int VocabSize { get; } = vocabSize;

    public int? BeginOfSequence => Bos;

    public IReadOnlyList<int> EndOfSequence => [Eos];

    public int[] Encode(string text, bool addSpecialTokens = true) =>
        [.. addSpecialTokens ? new[] { Bos } : [], .. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];

    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>();
        foreach (int id in ids)
            if (id < 256) bytes.Add((byte)id);
            else if (!skipSpecialTokens) bytes.AddRange(TokenBytes(id).ToArray());
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public ReadOnlySpan<byte> TokenBytes(int id) => id switch
    {
        < 256 => new[] { (byte)id },
        Bos => "<s>"u8.ToArray(),
        Eos => "</s>"u8.ToArray(),
        _ => Encoding.UTF8.GetBytes($"<{id}>"),
    };

    public bool IsSpecial(int id) => id >= 256;
}
