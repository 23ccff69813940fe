namespace Tessera.Runtime.Tests.Engine;

/// <summary>A whole cache can take a copy of another's positions (several choices of one prompt share its prefill); handles and shards cannot.</summary>
public sealed class KvCacheCopyTests
{
    private const int Layers = 2, Width = 4;

    [Fact]
    public void AWholeCache_CopiesTheKeysAndValuesOfEveryPositionHeld_GrowingAsNeeded()
    {
        var source = new KvCache(Layers, capacity: 500, Width);
        int positions = KvCache.InitialRows + 10;
        source.ReserveRows(positions);
        for (int l = 0; l < Layers; l++)
            for (int i = 0; i < positions * Width; i++)
            {
                source.Keys(l)[i] = l * 10_000 + i;
                source.Values(l)[i] = -(l * 10_000 + i);
            }
        source.Length = positions;
        var copy = new KvCache(Layers, capacity: 500, Width);

        Assert.True(copy.TryCopyFrom(source));

        Assert.Equal(positions, copy.Length);
        for (int l = 0; l < Layers; l++)
        {
            Assert.Equal(source.Keys(l).AsSpan(0, positions * Width), copy.Keys(l).AsSpan(0, positions * Width));
            Assert.Equal(source.Values(l).AsSpan(0, positions * Width), copy.Values(l).AsSpan(0, positions * Width));
        }
    }

    [Fact]
    public void HandlesShardsAndCachesOfAnotherShape_AreNotCopied()
    {
        var whole = new KvCache(Layers, capacity: 100, Width);

        Assert.False(KvCache.CreateHandle(100).TryCopyFrom(whole));
        Assert.False(whole.TryCopyFrom(KvCache.CreateHandle(100)));
        Assert.False(whole.TryCopyFrom(KvCache.CreateShard(Layers, 100, Width, 0, 8)));
        Assert.False(whole.TryCopyFrom(new KvCache(Layers, capacity: 100, Width * 2)));
    }
}
