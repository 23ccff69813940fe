using System.Buffers;
using Tessera.Parallelism;

namespace Tessera.Cpu;

// Attention under sequence parallelism. Each rank of the sequence group holds some positions of every sequence (its
// cache shard: the positions whose rows it computed) and computes the rows of its own tokens. Exact causal attention
// over all positions is assembled from partial results, as ring attention and flash-decoding do:
//   1. each rank has appended its rows' keys and values to its shards (AppendKv, before this kernel);
//   2. the queries of every rank go to every rank (an all-gather, as one all-to-all);
//   3. each rank attends every query over its own shard only, with the causal mask on absolute positions, and keeps
//      for each (row, head) the normalised partial output o_r and its log-sum-exp l_r = log Σ exp(score);
//   4. the partials return to the queries' owners (an all-to-all), which merge them:
//      o = Σ_r exp(l_r - L) o_r with L = log Σ_r exp(l_r), in rank order.
// Keys and values never move: a device keeps 1/sp of a sequence's cache, decode included (a decode step's one query
// visits every shard). What moves per layer is the queries out and the partials back: O(tokens x heads x d).
public static partial class CpuKernels
{
    /// <summary>
    /// Causal attention of the batch's rows where the batch is this rank's part of a sequence-parallel batch
    /// (<paramref name="sequence"/> of size 1: the ordinary single-rank kernel). Every rank of the group calls it,
    /// also with no rows, with the same sequences in the same order.
    /// </summary>
    public static void Attention(CpuExecution cpu, float[] q, float[] output, TokenBatch batch, int layer, int heads, int kvHeads, int headDim, ICollectiveGroup sequence,
        float scale = 0, float softCap = 0, int window = 0)
    {
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.Size == 1)
        {
            Attention(cpu, q, output, batch, layer, heads, kvHeads, headDim, scale, softCap, window);
            return;
        }
        ArgumentNullException.ThrowIfNull(batch);
        if (heads <= 0 || kvHeads <= 0 || headDim <= 0 || heads % kvHeads != 0)
            throw new ArgumentOutOfRangeException(nameof(heads), $"Attention needs positive heads ({heads}) divisible by kvHeads ({kvHeads}) and a positive headDim ({headDim}).");
        var options = AttentionScores.Of(headDim, scale, softCap, window);
        int rows = batch.Rows, width = heads * headDim, kvWidth = kvHeads * headDim;
        CheckLength(q, (long)rows * width, nameof(q));
        CheckLength(output, (long)rows * width, nameof(output));
        // 1. This rank's rows are in its shards already, at slots Length.. (committed after the forward): the slots
        // visible in this forward are the committed ones and this batch's.
        var rowsOf = RowsOfEachSequence(batch);
        var visibleSlots = batch.Caches.Select((c, s) => c.Length + rowsOf[s].Count).ToArray();

        // 2. Every rank's queries, each row with its sequence and position (floats: exact below 2^24).
        var block = new float[2 * rows + (long)rows * width];
        for (int r = 0; r < rows; r++)
        {
            block[2 * r] = batch.SequenceOfRow[r];
            block[2 * r + 1] = batch.Positions[r];
        }
        Array.Copy(q, 0, block, 2 * rows, (long)rows * width);
        var queries = sequence.AllToAll(Enumerable.Repeat(block, sequence.Size).ToArray());

        // 3. Every query over this rank's shards: partial output and log-sum-exp per (row, head).
        var partials = new float[sequence.Size][];
        for (int source = 0; source < sequence.Size; source++)
        {
            var incoming = queries[source];
            int n = checked((int)(incoming.LongLength / (2 + width)));
            var result = new float[(long)n * (width + heads)];
            var sequences = new int[n];
            var positions = new int[n];
            for (int i = 0; i < n; i++)
            {
                sequences[i] = checked((int)incoming[2 * i]);
                positions[i] = checked((int)incoming[2 * i + 1]);
            }
            for (int s = 0; s < batch.Caches.Length; s++)
            {
                var mine = Enumerable.Range(0, n).Where(i => sequences[i] == s).ToArray();
                if (mine.Length > 0)
                    AttendShard(cpu, incoming, 2 * n, mine, positions, batch.Caches[s], visibleSlots[s], layer, heads, kvHeads, headDim, result, n, options);
            }
            partials[source] = result;
        }

        // 4. The partials back to the queries' owners, merged there in rank order.
        var back = sequence.AllToAll(partials);
        MergePartials(back, rows, heads, headDim, output);
    }

    /// <summary>
    /// Partial attention of query rows <paramref name="rowsOfSequence"/> (of one sequence) over the first
    /// <paramref name="slots"/> slots of its shard, masked by absolute position (causally, and to the sliding window:
    /// a shard's keys are any positions, so the window is a mask here, not a range): result[i] = (o (heads * d), l (heads))
    /// at o: i * width, l: n * width + i * heads. A row that sees no slot gets o = 0, l = -inf. Few rows (decode) are
    /// attended row by row over the cache in place; many rows (a prompt) as matrix products per key/value head.
    /// </summary>
    private static void AttendShard(CpuExecution cpu, float[] incoming, int queryOffset, int[] rowsOfSequence, int[] positions, KvCache shard, int slots, int layer,
        int heads, int kvHeads, int d, float[] result, int n, AttentionScores options)
    {
        var lse = result.AsSpan(n * heads * d);
        if (slots == 0)
        {
            foreach (int i in rowsOfSequence)
                for (int h = 0; h < heads; h++) lse[i * heads + h] = float.NegativeInfinity;
            return;
        }
        if (rowsOfSequence.Length < PrefillGemmRows)
            AttendShardRows(cpu, incoming, queryOffset, rowsOfSequence, positions, shard, slots, layer, heads, kvHeads, d, result, n, options);
        else
            AttendShardGemm(cpu, incoming, queryOffset, rowsOfSequence, positions, shard, slots, layer, heads, kvHeads, d, result, n, options);
    }

    /// <summary>Row by row: scores against the cached keys where they lie, the weighted sum of the values the same way.</summary>
    private static unsafe void AttendShardRows(CpuExecution cpu, float[] incoming, int queryOffset, int[] rowsOfSequence, int[] positions, KvCache shard, int slots, int layer,
        int heads, int kvHeads, int d, float[] result, int n, AttentionScores options)
    {
        int width = heads * d, kvWidth = kvHeads * d, group = heads / kvHeads;
        var keyPositions = shard.SlotPositionsUpTo(slots).ToArray();
        float[] keysArray = shard.Keys(layer), valuesArray = shard.Values(layer);
        int items = rowsOfSequence.Length * heads;
        CpuParallel.ForEach(items, CpuParallel.Workers(cpu, items, 4L * slots * d), item =>
        {
            int i = rowsOfSequence[item / heads], h = item % heads, kv = h / group;
            float[] scores = ArrayPool<float>.Shared.Rent(slots);
            try
            {
                fixed (float* q = &incoming[queryOffset + (long)i * width + h * d], keys = keysArray, values = valuesArray, output = &result[(long)i * width + h * d])
                {
                    for (int p = 0; p < slots; p++)
                        scores[p] = Dot(q, keys + (long)p * kvWidth + kv * d, d);
                    float l = PartialSoftmax(scores.AsSpan(0, slots), keyPositions, positions[i], options);
                    result[n * width + i * heads + h] = l;
                    new Span<float>(output, d).Clear();
                    for (int p = 0; p < slots; p++)
                        if (scores[p] != 0) Axpy(scores[p], values + (long)p * kvWidth + kv * d, output, d);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(scores);
            }
        });
    }

    /// <summary>Many rows: per key/value head, S = Q Kᵀ and O = softmax(S) V as matrix products over the shard's slots.</summary>
    private static void AttendShardGemm(CpuExecution cpu, float[] incoming, int queryOffset, int[] rowsOfSequence, int[] positions, KvCache shard, int slots, int layer,
        int heads, int kvHeads, int d, float[] result, int n, AttentionScores options)
    {
        int width = heads * d, kvWidth = kvHeads * d, group = heads / kvHeads, count = rowsOfSequence.Length;
        var keyPositions = shard.SlotPositionsUpTo(slots).ToArray();
        float[] keys = shard.Keys(layer), values = shard.Values(layer);
        var pool = ArrayPool<float>.Shared;
        float[] qh = pool.Rent(count * d), kh = pool.Rent(slots * d), vhT = pool.Rent(d * slots), scores = pool.Rent(count * slots), oh = pool.Rent(count * d);
        try
        {
            for (int kv = 0; kv < kvHeads; kv++)
            {
                for (int p = 0; p < slots; p++)
                {
                    Array.Copy(keys, (long)p * kvWidth + kv * d, kh, (long)p * d, d);
                    for (int j = 0; j < d; j++) vhT[(long)j * slots + p] = values[(long)p * kvWidth + kv * d + j];
                }
                for (int h = kv * group; h < (kv + 1) * group; h++)
                {
                    for (int t = 0; t < count; t++)
                        Array.Copy(incoming, queryOffset + (long)rowsOfSequence[t] * width + h * d, qh, (long)t * d, d);
                    MatMul(cpu, qh, count, d, kh, slots, scores);
                    CpuParallel.ForRanges(count, CpuParallel.Workers(cpu, count, 8L * slots), (t0, t1) =>
                    {
                        for (int t = t0; t < t1; t++)
                            result[n * width + rowsOfSequence[t] * heads + h] = PartialSoftmax(scores.AsSpan(t * slots, slots), keyPositions, positions[rowsOfSequence[t]], options);
                    });
                    MatMul(cpu, scores, count, slots, vhT, d, oh);
                    for (int t = 0; t < count; t++)
                        Array.Copy(oh, (long)t * d, result, (long)rowsOfSequence[t] * width + h * d, d);
                }
            }
        }
        finally
        {
            pool.Return(qh);
            pool.Return(kh);
            pool.Return(vhT);
            pool.Return(scores);
            pool.Return(oh);
        }
    }

    /// <summary>
    /// In place: row (raw q·k scores over slots) becomes the softmax of its scores (scaled, soft-capped) over the slots
    /// a query at <paramref name="position"/> sees (the others 0); returns its log-sum-exp, -inf when no slot is visible.
    /// </summary>
    private static float PartialSoftmax(Span<float> row, int[] keyPositions, int position, AttentionScores options)
    {
        options.Apply(row);
        for (int p = 0; p < row.Length; p++)
            if (!options.Sees(position, keyPositions[p])) row[p] = float.NegativeInfinity;
        float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max))
        {
            row.Clear();
            return float.NegativeInfinity;
        }
        System.Numerics.Tensors.TensorPrimitives.Subtract(row, max, row);
        System.Numerics.Tensors.TensorPrimitives.Exp(row, row);
        float sum = System.Numerics.Tensors.TensorPrimitives.Sum(row);
        System.Numerics.Tensors.TensorPrimitives.Multiply(row, 1f / sum, row);
        return max + MathF.Log(sum);
    }

    /// <summary>output row r, head h = the merge of every rank's partial (o_r, l_r) for it: weights exp(l_r - max l), normalised.</summary>
    private static void MergePartials(float[][] partials, int rows, int heads, int d, float[] output)
    {
        int width = heads * d;
        var weights = new float[partials.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int h = 0; h < heads; h++)
            {
                float max = float.NegativeInfinity;
                for (int source = 0; source < partials.Length; source++)
                    max = MathF.Max(max, partials[source][rows * width + r * heads + h]);
                float total = 0;
                for (int source = 0; source < partials.Length; source++)
                    total += weights[source] = float.IsNegativeInfinity(partials[source][rows * width + r * heads + h]) ? 0f
                        : MathF.Exp(partials[source][rows * width + r * heads + h] - max);
                var o = output.AsSpan(r * width + h * d, d);
                o.Clear();
                for (int source = 0; source < partials.Length; source++)
                    if (weights[source] > 0)
                        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(partials[source].AsSpan(r * width + h * d, d), weights[source] / total, o, o);
            }
        }
    }
}
