namespace Tessera.Runtime.Tests.Engine;

/// <summary>A whole cache grows with use, doubling, but not past the positions its owner budgeted.</summary>
public sealed class KvCacheGrowthTests
{
    private const int Layers = 2, Width = 8;

    private static long BytesOf(int rows) => 2L * Layers * rows * Width * sizeof(float);

    [Fact]
    public void ACache_StartsSmall_AndDoublesAsPositionsAreWritten()
    {
        var cache = new KvCache(Layers, capacity: 1000, Width);
        Assert.Equal(BytesOf(KvCache.InitialRows), cache.Bytes);

        cache.ReserveRows(KvCache.InitialRows + 1);

        Assert.Equal(BytesOf(2 * KvCache.InitialRows), cache.Bytes);
    }

    [Fact]
    public void AGrowthLimit_StopsTheDoublingThere_WhatWasWrittenIsKept_AndRowsAskedForPastItAreStillGiven()
    {
        var cache = new KvCache(Layers, capacity: 1000, Width) { GrowthLimit = 70 };
        cache.Keys(0)[5] = 42;

        cache.ReserveRows(65);
        Assert.Equal(BytesOf(70), cache.Bytes);
        Assert.Equal(42, cache.Keys(0)[5]);

        cache.ReserveRows(90);
        Assert.Equal(BytesOf(90), cache.Bytes);
    }

    [Fact]
    public void Preallocate_GivesStorageForThePositionsAtOnce_AndKeepsThePositionsHeld()
    {
        var cache = new KvCache(Layers, capacity: 1000, Width);
        cache.Keys(1)[3] = 7;
        cache.Values(1)[3] = 8;
        cache.Length = 1;

        cache.Preallocate(300);

        Assert.Equal(BytesOf(300), cache.Bytes);
        Assert.Equal(7, cache.Keys(1)[3]);
        Assert.Equal(8, cache.Values(1)[3]);
    }
}
