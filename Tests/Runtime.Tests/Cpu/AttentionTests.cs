using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class AttentionTests
{
    [Theory]
    [InlineData(4, 4, 16)]   // multi-head
    [InlineData(8, 2, 64)]   // grouped-query: 4 query heads per kv head
    [InlineData(6, 1, 32)]   // multi-query
    [InlineData(3, 3, 5)]    // head size below one vector
    [InlineData(2, 1, 24)]   // one Vector512 plus a tail
    public void Attention_MatchesReference_ForAPrefillIntoAnEmptyCache(int heads, int kvHeads, int headDim) =>
        Check(heads, kvHeads, headDim, cached: [0], fresh: [17]);

    [Theory]
    [InlineData(8, 2, 64)]
    [InlineData(12, 12, 64)]
    [InlineData(4, 1, 7)]
    public void Attention_MatchesReference_ForABatchOfSequencesAtDifferentCacheLengths(int heads, int kvHeads, int headDim) =>
        Check(heads, kvHeads, headDim, cached: [0, 5, 40, 1], fresh: [3, 1, 7, 1]);

    [Theory]
    [InlineData(8, 2, 64)]
    [InlineData(2, 2, 128)]
    [InlineData(10, 5, 16)]  // decode splits the heads into ranges that cut across kv groups
    public void Attention_MatchesReference_ForDecodeRows(int heads, int kvHeads, int headDim) =>
        Check(heads, kvHeads, headDim, cached: [9, 30], fresh: [1, 1]);

    [Theory]
    [InlineData(8, 2, 64)]
    [InlineData(3, 3, 5)]
    public void Attention_MatchesReference_WhenPromptChunksGoThroughMatrixProducts_NextToDecodeRows(int heads, int kvHeads, int headDim) =>
        // 20 and 40 rows of one sequence take the matrix-product path (one after a cached prefix), the single row the row-wise one.
        Check(heads, kvHeads, headDim, cached: [0, 30, 3], fresh: [20, 1, 40]);

    [Fact]
    public void Attention_MatchesReference_AtAContextLongerThanTheStackScoreBuffer() =>
        Check(heads: 4, kvHeads: 1, headDim: 64, cached: [5000, 100], fresh: [2, 1]);

    [Fact]
    public void A_whole_cache_allocates_what_its_positions_use_not_its_context()
    {
        // A model with a context of 100 million positions: a 3-token prompt must not reserve it (it once threw overflow or ran out of memory).
        var cache = new KvCache(layers: 2, capacity: 100_000_000, kvWidth: 8);
        Assert.Equal(2L * 2 * KvCache.InitialRows * 8 * sizeof(float), cache.Bytes);

        cache.ReserveRows(100);
        Assert.Equal(2L * 2 * 128 * 8 * sizeof(float), cache.Bytes); // doubled
        Assert.True(cache.Keys(1).Length >= 100 * 8);
        Assert.Throws<ContextOverflowException>(() => new KvCache(1, 10, 8).ReserveRows(11));
    }

    [Fact]
    public void Attention_MatchesReference_ForOneDecodeRowOfGroupedHeads() =>
        Check(heads: 10, kvHeads: 5, headDim: 16, cached: [37], fresh: [1]);

    [Fact]
    public void Attention_UsesTheCacheLayersOfAPipelineStage()
    {
        // A stage holding layers 2..3 addresses layer 3 as its second cache layer.
        Check(heads: 4, kvHeads: 2, headDim: 16, cached: [3], fresh: [4], layers: 2, firstLayer: 2, layer: 3);
    }

    [Theory]
    [InlineData(8)]   // shorter than the prompts: every path masks
    [InlineData(1)]   // each query sees only itself
    [InlineData(64)]  // longer than every context: nothing masked
    public void Attention_WithASlidingWindow_SeesOnlyTheLastWindowPositions_OnEveryPath(int window) =>
        // Prompt chunks (20 and 40 rows: matrix products), a row after a cached prefix and decode rows.
        Check(8, 2, 16, cached: [0, 30, 3, 41], fresh: [20, 1, 40, 1], window: window);

    [Fact]
    public void Attention_WithAScaleAndASoftCap_CapsTheScaledScoresBeforeTheSoftmax_OnEveryPath() =>
        // Gemma 2: scores · query_pre_attn_scalar^-0.5, then 50 · tanh(s / 50); a cap of 0.5 bites on these scores.
        Check(4, 2, 32, cached: [0, 30, 9], fresh: [24, 1, 1], scale: 0.3f, softCap: 0.5f, window: 5);

    [Fact]
    public void Attention_RejectsANegativeWindow()
    {
        var cache = new KvCache(1, 4, 8);
        var batch = TokenBatch.ForSequence(cache, [1]);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CpuKernels.Attention(CpuExecution.AllCores, new float[8], new float[8], batch, 0, heads: 1, kvHeads: 1, headDim: 8, window: -1));
    }

    [Fact]
    public void Attention_RejectsHeadsNotDivisibleByKvHeads()
    {
        var cache = new KvCache(1, 4, 2 * 8);
        var batch = TokenBatch.ForSequence(cache, [1]);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            CpuKernels.Attention(CpuExecution.AllCores, new float[24], new float[24], batch, 0, heads: 3, kvHeads: 2, headDim: 8));
    }

    /// <summary>
    /// Builds identical caches for the reference and the kernel (random prefixes of the given lengths), runs one batch
    /// with <paramref name="fresh"/> new rows per sequence, and compares outputs and the cached keys and values.
    /// </summary>
    private static void Check(int heads, int kvHeads, int headDim, int[] cached, int[] fresh, int layers = 1, int firstLayer = 0, int layer = 0,
        float scale = 0, float softCap = 0, int window = 0)
    {
        int kvWidth = kvHeads * headDim, width = heads * headDim, rows = fresh.Sum();
        var expectedCaches = BuildCaches(cached, fresh, layers, firstLayer, kvWidth);
        var actualCaches = BuildCaches(cached, fresh, layers, firstLayer, kvWidth);
        var tokens = fresh.Select(f => new int[f]).ToArray();
        var expectedBatch = TokenBatch.ForSequences(expectedCaches, tokens);
        var actualBatch = TokenBatch.ForSequences(actualCaches, tokens);

        var q = TestData.Random(rows * width, 11, scale: 2);
        var k = TestData.Random(rows * kvWidth, 12, scale: 2);
        var v = TestData.Random(rows * kvWidth, 13);
        var expected = new float[rows * width];
        var actual = Enumerable.Repeat(float.NaN, rows * width).ToArray();
        ReferenceKernels.Attention(q, k, v, expected, expectedBatch, layer, heads, kvHeads, headDim, scale, softCap, window);
        CpuKernels.AppendKv(k, v, actualBatch, layer, kvWidth);
        CpuKernels.Attention(CpuExecution.AllCores, q, actual, actualBatch, layer, heads, kvHeads, headDim, scale, softCap, window);

        string what = $"Attention heads={heads}/{kvHeads} d={headDim} cached=[{string.Join(",", cached)}] fresh=[{string.Join(",", fresh)}] scale={scale} cap={softCap} window={window}";
        // Outputs are averages of values in [-1, 1]: an absolute bound of 1e-5 is a relative one.
        TestData.AssertClose(expected, actual, 1e-5, what, floor: 1);
        for (int s = 0; s < cached.Length; s++)
        {
            Assert.Equal(expectedCaches[s].Keys(layer), actualCaches[s].Keys(layer));
            Assert.Equal(expectedCaches[s].Values(layer), actualCaches[s].Values(layer));
        }
    }

    private static KvCache[] BuildCaches(int[] cached, int[] fresh, int layers, int firstLayer, int kvWidth)
    {
        var caches = new KvCache[cached.Length];
        for (int s = 0; s < cached.Length; s++)
        {
            caches[s] = new KvCache(layers, cached[s] + fresh[s] + 2, kvWidth, firstLayer);
            caches[s].ReserveRows(caches[s].Capacity);
            for (int l = firstLayer; l < firstLayer + layers; l++)
            {
                // Only the prefix is filled; positions past it are stale data the kernel must overwrite or ignore.
                TestData.Random(caches[s].Capacity * kvWidth, 100 + s * 10 + l, scale: 2).CopyTo(caches[s].Keys(l), 0);
                TestData.Random(caches[s].Capacity * kvWidth, 200 + s * 10 + l).CopyTo(caches[s].Values(l), 0);
            }
            caches[s].Length = cached[s];
        }
        return caches;
    }
}
