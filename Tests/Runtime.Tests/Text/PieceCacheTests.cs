using System.Text;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>
/// The tokenizer's cache of merged pieces is bounded by bytes (issue 15: bounded by count only, 60 distinct 5 MB prompts
/// grew a server from 74 MB to 3.9 GB, and it stayed there).
/// </summary>
public sealed class PieceCacheTests
{
    private static BpeTokenizer FreshTinyGpt2() => Tokenizers.Load(BundledTokenizerTests.Checkpoint("tiny-gpt2"));

    /// <summary>Distinct words of <paramref name="letters"/> lowercase letters, spelling 0, 1, 2, ... in base 26.</summary>
    private static IEnumerable<string> DistinctWords(int count, int letters)
    {
        var word = new char[letters];
        for (int n = 0; n < count; n++)
        {
            for (int i = 0, rest = n; i < letters; i++, rest /= 26) word[letters - 1 - i] = (char)('a' + rest % 26);
            yield return new string(word);
        }
    }

    [Fact]
    public void ManyDistinctPieces_KeepTheCacheWithinItsByteBudget()
    {
        var tokenizer = FreshTinyGpt2();
        // 150,000 distinct 12-letter words: about 22 MB of cache entries, fewer than the 200,000 entries the count
        // limit allowed.
        foreach (var chunk in DistinctWords(150_000, 12).Chunk(10_000)) tokenizer.Encode(" " + string.Join(' ', chunk));

        var (count, bytes) = tokenizer.CacheUsage();
        Assert.InRange(bytes, 1, PieceCache.ByteBudget);
        Assert.True(count > 1_000, $"only {count} pieces cached");
    }

    [Fact]
    public void AHugePiece_LeavesNoScratchOfItsSizeOnTheThread()
    {
        // Found by the soak benchmark: every server thread that once merged a 1 MB word kept a million-entry priority
        // queue and two int arrays of that size, and the process grew by them.
        var tokenizer = FreshTinyGpt2();

        var ids = tokenizer.Encode(new string('x', 200_000));

        Assert.NotEmpty(ids);
        Assert.InRange(BpeMerges.KeptScratchLength, 0, BpeMerges.KeptScratchSymbols);
    }

    [Fact]
    public void HugePieces_AreNotCached()
    {
        var tokenizer = FreshTinyGpt2();
        foreach (string word in DistinctWords(20, 10_000)) tokenizer.Encode(word);

        Assert.Equal(0, tokenizer.CacheUsage().Count);
    }

    [Fact]
    public void CachedPieces_GiveTheSameIds_AsAFreshTokenizer()
    {
        var text = new StringBuilder();
        foreach (string word in DistinctWords(2_000, 3)) text.Append(word).Append(' ').Append(word[..2]).Append(' ');
        var tokenizer = FreshTinyGpt2();
        int[] first = tokenizer.Encode(text.ToString());

        Assert.True(tokenizer.CacheUsage().Count > 1_000);
        Assert.Equal(first, tokenizer.Encode(text.ToString()));
        Assert.Equal(first, FreshTinyGpt2().Encode(text.ToString()));
        Assert.Equal(text.ToString(), tokenizer.Decode(first));
    }
}
