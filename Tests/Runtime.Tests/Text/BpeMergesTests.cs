using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>The merge table's lookups, which every uncached piece makes once per adjacent pair of symbols.</summary>
public sealed class BpeMergesTests
{
    [Fact]
    public void PairsOfSmallIds_SpreadOverManyHashCodes()
    {
        // long.GetHashCode of the key (left << 32 | right) is left ^ right: the 65,536 pairs of byte tokens shared 256
        // hash codes, and GPT-2's early merges (small ids) shared the table's first buckets, making lookups long chains
        // (866,421 lookups took 0.5 s on the tokenizer benchmark).
        var comparer = Gpt2TokenizerTests.Load().MergeKeyComparer;
        var codes = new HashSet<int>();
        for (int left = 0; left < 256; left++)
            for (int right = 0; right < 256; right++)
                codes.Add(comparer.GetHashCode(BpeMerges.Key(left, right)));

        Assert.True(codes.Count > 65_000, $"{codes.Count} distinct hash codes for 65,536 pairs");
    }
}
