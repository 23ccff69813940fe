using Tessera.Cpu;
using Tessera.Parallelism;

// The sequence-parallel kernel runs its ranks on threads and waits for them (with timeouts): that is what it tests.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

/// <summary>
/// Sequence parallelism's parts: where each token goes, cache shards that hold some positions and grow with use, and
/// attention assembled from every rank's partial results equal to attention on one device.
/// </summary>
public sealed class SequenceParallelTests
{
    [Fact]
    public void APrompt_IsCutInZigZagBlocks_SoEachRankGetsAnEarlyAndALateBlock()
    {
        // 10 tokens, 2 ranks: 4 blocks of 3, 3, 2, 2: rank 0 takes blocks 0 and 3, rank 1 blocks 1 and 2.
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 1, 0, 0], SequencePlacement.Ranks(0, 10, 2));
        var ranks = SequencePlacement.Ranks(5, 24, 3);
        Assert.All(Enumerable.Range(0, 3), q => Assert.Equal(8, ranks.Count(r => r == q)));
    }

    [Fact]
    public void FewTokens_GoRoundRobinByPosition_SoDecodeStepsSpreadOverTheRanks()
    {
        Assert.Equal([1], SequencePlacement.Ranks(7, 1, 3));
        Assert.Equal([2, 0, 1], SequencePlacement.Ranks(5, 3, 3));
        Assert.Equal([0, 0, 0], SequencePlacement.Ranks(4, 3, 1));
    }

    [Fact]
    public void AShard_RecordsItsPositions_GrowsByUse_AndRewindsByPosition()
    {
        var shard = KvCache.CreateShard(layers: 2, capacity: 64, kvWidth: 3, firstLayer: 0, initialSlots: 4);
        long initial = shard.Bytes;
        Assert.Equal(2L * 2 * 4 * 3 * 4, initial);
        int slot = shard.AppendSlots([0, 5, 6, 9, 12, 13]);
        Assert.Equal(0, slot);
        shard.Keys(1)[5 * 3] = 42;   // slot 5 (position 13) of layer 1, after growth
        var batch = TokenBatch.ForShard([shard], [[1, 2, 3, 4, 5, 6]], [[0, 5, 6, 9, 12, 13]], [[false, false, false, false, false, true]]);
        batch.Commit();
        Assert.Equal(6, shard.Length);
        Assert.Equal([0, 5, 6, 9, 12, 13], shard.SlotPositions.ToArray());
        Assert.Equal(2L * 2 * 8 * 3 * 4, shard.Bytes);   // grew by its initial 4 slots, not to the whole context

        shard.RewindTo(10);
        Assert.Equal([0, 5, 6, 9], shard.SlotPositions.ToArray());
        shard.AppendSlots([10, 13]);
        Assert.Throws<ContextOverflowException>(() => KvCache.CreateShard(1, 2, 1, 0, 1).AppendSlots([0, 1, 2]));
    }

    [Theory]
    [InlineData(2, 1, 13)]
    [InlineData(3, 2, 13)]
    [InlineData(4, 4, 13)]
    [InlineData(2, 2, 45)]   // a prompt whose every rank gets 16 rows or more: the matrix-product path
    [InlineData(3, 2, 13, 4)]   // a sliding window: each shard masks its keys by absolute position
    [InlineData(2, 2, 45, 7, 0.5f, 0.2f)]   // window, scale and soft-cap on the matrix-product path
    public void AttentionFromPartialResults_OverEveryRanksShard_EqualsOneDevicesAttention(int ranks, int kvHeads, int promptLength,
        int window = 0, float softCap = 0, float scale = 0)
    {
        // Two sequences: a prompt on an empty cache, and 2 new tokens after 9 cached ones; the same batch on one device
        // and split over the ranks by SequencePlacement, attention layer by layer through two layers.
        const int heads = 4, d = 8, context = 64, layers = 2;
        int kvWidth = kvHeads * d, width = heads * d;
        var random = new Random(3);
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        int[] starts = [0, 9], counts = [promptLength, 2];
        // Cached positions of sequence 1 (written by an earlier forward) and every new row's q, k, v per layer.
        var history = Enumerable.Range(0, layers).Select(_ => (K: Random(9 * kvWidth), V: Random(9 * kvWidth))).ToArray();
        int rows = counts.Sum();
        var qkv = Enumerable.Range(0, layers).Select(_ => (Q: Random(rows * width), K: Random(rows * kvWidth), V: Random(rows * kvWidth))).ToArray();

        // One device.
        var whole = new[] { new KvCache(layers, context, kvWidth), new KvCache(layers, context, kvWidth) };
        for (int l = 0; l < layers; l++)
        {
            Array.Copy(history[l].K, whole[1].Keys(l), 9 * kvWidth);
            Array.Copy(history[l].V, whole[1].Values(l), 9 * kvWidth);
        }
        TokenBatch.ForSequences([whole[1]], [new int[9]]).Commit();
        var batch = TokenBatch.ForSequences(whole, [new int[promptLength], new int[2]]);
        var expected = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            expected[l] = new float[rows * width];
            CpuKernels.AppendKv(qkv[l].K, qkv[l].V, batch, l, kvWidth);
            CpuKernels.Attention(CpuExecution.AllCores, qkv[l].Q, expected[l], batch, l, heads, kvHeads, d, scale, softCap, window);
        }

        // The ranks: each gets its tokens' rows; sequence 1's cached positions are spread as decode steps would have.
        var placement = new[] { SequencePlacement.Ranks(0, promptLength, ranks), SequencePlacement.Ranks(9, 2, ranks) };
        var historyPlacement = Enumerable.Range(0, 9).Select(p => p % ranks).ToArray();
        using var group = new InProcessGroup(ranks);
        var actual = new float[ranks][][];
        var rowOf = new List<int>[ranks]; // global row of each local row
        var threads = Enumerable.Range(0, ranks).Select(q => Task.Factory.StartNew(() =>
        {
            var shards = new[] { KvCache.Create(layers, context, kvWidth, 0, ranks), KvCache.Create(layers, context, kvWidth, 0, ranks) };
            var cached = Enumerable.Range(0, 9).Where(p => historyPlacement[p] == q).ToArray();
            shards[1].AppendSlots(cached);
            for (int l = 0; l < layers; l++)
                for (int i = 0; i < cached.Length; i++)
                {
                    Array.Copy(history[l].K, cached[i] * kvWidth, shards[1].Keys(l), i * kvWidth, kvWidth);
                    Array.Copy(history[l].V, cached[i] * kvWidth, shards[1].Values(l), i * kvWidth, kvWidth);
                }
            TokenBatch.ForShard([shards[1]], [new int[cached.Length]], [cached], [new bool[cached.Length]]).Commit();

            rowOf[q] = [];
            var positions = new int[2][];
            for (int s = 0; s < 2; s++)
            {
                var mine = Enumerable.Range(0, counts[s]).Where(t => placement[s][t] == q).ToArray();
                positions[s] = mine.Select(t => starts[s] + t).ToArray();
                rowOf[q].AddRange(mine.Select(t => (s == 0 ? 0 : promptLength) + t));
            }
            var local = TokenBatch.ForShard(shards, [new int[positions[0].Length], new int[positions[1].Length]], positions,
                [new bool[positions[0].Length], new bool[positions[1].Length]]);
            actual[q] = new float[layers][];
            for (int l = 0; l < layers; l++)
            {
                float[] Rows(float[] source, int w) => rowOf[q].SelectMany(r => source.AsSpan(r * w, w).ToArray()).ToArray();
                actual[q][l] = new float[Math.Max(1, rowOf[q].Count) * width];
                CpuKernels.AppendKv(Rows(qkv[l].K, kvWidth), Rows(qkv[l].V, kvWidth), local, l, kvWidth);
                CpuKernels.Attention(CpuExecution.AllCores, Rows(qkv[l].Q, width), actual[q][l], local, l, heads, kvHeads, d, group[q], scale, softCap, window);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(threads, TimeSpan.FromSeconds(20)));

        for (int q = 0; q < ranks; q++)
            for (int l = 0; l < layers; l++)
                for (int i = 0; i < rowOf[q].Count; i++)
                {
                    var a = actual[q][l].AsSpan(i * width, width);
                    var b = expected[l].AsSpan(rowOf[q][i] * width, width);
                    for (int j = 0; j < width; j++)
                        Assert.True(Math.Abs(a[j] - b[j]) <= 1e-5f, $"rank {q}, layer {l}, row {rowOf[q][i]}, column {j}: {a[j]} vs {b[j]}");
                }
    }
}
