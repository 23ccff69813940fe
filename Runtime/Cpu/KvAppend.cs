namespace Tessera.Cpu;

public static partial class CpuKernels
{
    /// <summary>
    /// Writes each row's key and value (T, kvWidth) into its sequence's cache: a whole cache at the row's position
    /// (growing it as needed), a sequence-parallel shard at its next slots (recording the positions). The batch commits
    /// them after the forward. Runs before <see cref="Attention(float[], float[], TokenBatch, int, int, int, int)"/> in
    /// every layer: a row attends to the earlier rows of its own sequence in the same batch, so all are cached first.
    /// </summary>
    public static void AppendKv(float[] k, float[] v, TokenBatch batch, int layer, int kvWidth)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (kvWidth <= 0) throw new ArgumentOutOfRangeException(nameof(kvWidth), kvWidth, "A KV row needs a positive width.");
        int rows = batch.Rows;
        CheckLength(k, (long)rows * kvWidth, nameof(k));
        CheckLength(v, (long)rows * kvWidth, nameof(v));
        if (rows == 0) return;
        if (batch.Caches[0].IsShard)
        {
            AppendToShards(k, v, batch, layer, kvWidth);
            return;
        }
        for (int r = 0; r < rows; r++)
        {
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            int position = batch.Positions[r];
            cache.ReserveRows(position + 1);
            Array.Copy(k, (long)r * kvWidth, cache.Keys(layer), (long)position * kvWidth, kvWidth);
            Array.Copy(v, (long)r * kvWidth, cache.Values(layer), (long)position * kvWidth, kvWidth);
        }
    }

    /// <summary>Each sequence's rows into its shard, at slots Length.. in row order.</summary>
    private static void AppendToShards(float[] k, float[] v, TokenBatch batch, int layer, int kvWidth)
    {
        var rowsOf = RowsOfEachSequence(batch);
        for (int s = 0; s < rowsOf.Length; s++)
        {
            if (rowsOf[s].Count == 0) continue;
            var cache = batch.Caches[s];
            int slot = cache.AppendSlots(rowsOf[s].Select(r => batch.Positions[r]).ToArray());
            foreach (int r in rowsOf[s])
            {
                Array.Copy(k, (long)r * kvWidth, cache.Keys(layer), (long)slot * kvWidth, kvWidth);
                Array.Copy(v, (long)r * kvWidth, cache.Values(layer), (long)slot * kvWidth, kvWidth);
                slot++;
            }
        }
    }

    /// <summary>The batch's rows, grouped by sequence, in row order.</summary>
    private static List<int>[] RowsOfEachSequence(TokenBatch batch)
    {
        var rowsOf = new List<int>[batch.Caches.Length];
        for (int s = 0; s < rowsOf.Length; s++) rowsOf[s] = [];
        for (int r = 0; r < batch.Rows; r++) rowsOf[batch.SequenceOfRow[r]].Add(r);
        return rowsOf;
    }
}
