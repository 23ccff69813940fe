namespace Tessera.Parallelism;

/// <summary>
/// Which rank of a sequence-parallel group computes, and caches, each new token of a sequence. A prompt (at least two
/// tokens per rank) is cut into 2S contiguous blocks and rank q takes blocks q and 2S - 1 - q (the zig-zag of
/// context-parallel implementations): under the causal mask a later block attends to more positions, so pairing an
/// early block with a late one gives every rank the same attention work and the same number of rows. Fewer tokens
/// (decode steps) go round-robin by position, so every rank's share of the cache grows alike.
/// </summary>
public static class SequencePlacement
{
    /// <summary>The sequence rank of each of <paramref name="count"/> tokens at positions firstPosition, firstPosition + 1, ...</summary>
    public static int[] Ranks(int firstPosition, int count, int degree)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(degree, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var ranks = new int[count];
        if (degree == 1) return ranks;
        if (count < 2 * degree)
        {
            for (int t = 0; t < count; t++) ranks[t] = (firstPosition + t) % degree;
            return ranks;
        }
        var sizes = RequestPartitioner.EvenSizes(count, 2 * degree);
        for (int block = 0, t = 0; block < sizes.Length; block++)
            for (int i = 0; i < sizes[block]; i++, t++)
                ranks[t] = block < degree ? block : 2 * degree - 1 - block;
        return ranks;
    }
}
