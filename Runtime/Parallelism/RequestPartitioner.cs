namespace Tessera.Parallelism;

/// <summary>
/// Spreads the sequences of a batch over D data-parallel replicas: a seeded shuffle (so that long and short requests,
/// which callers tend to submit in runs, mix across replicas; fixed seed, so runs are reproducible), then an even
/// split with the remainder going to the first replicas. <see cref="RequestPartition"/> maps the outputs back.
/// </summary>
public sealed class RequestPartitioner
{
    /// <summary>The seed used unless another is given.</summary>
    public const int DefaultSeed = 1234;

    public RequestPartitioner(int replicas, int seed = DefaultSeed)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), $"At least one replica is needed (got {replicas}).");
        Replicas = replicas;
        Seed = seed;
    }

    public int Replicas { get; }

    public int Seed { get; }

    /// <summary>Splits <paramref name="sequences"/> sequences over the replicas.</summary>
    public RequestPartition Partition(int sequences) => Partition(Enumerable.Repeat(-1, sequences).ToArray());

    /// <summary>
    /// Splits sequences of which some are already pinned to a replica (<paramref name="pinnedReplica"/>[s] >= 0: its
    /// KV cache lives there, so it must go back there); the free ones (-1) are shuffled and each given to the replica
    /// with the fewest sequences so far, lowest index first: with nothing pinned, an even split, remainder first.
    /// </summary>
    public RequestPartition Partition(IReadOnlyList<int> pinnedReplica)
    {
        int n = pinnedReplica.Count;
        var lists = Enumerable.Range(0, Replicas).Select(_ => new List<int>()).ToArray();
        var free = new List<int>();
        for (int s = 0; s < n; s++)
        {
            int r = pinnedReplica[s];
            if (r >= Replicas) throw new ArgumentOutOfRangeException(nameof(pinnedReplica), $"Sequence {s} is pinned to replica {r} of {Replicas}.");
            if (r >= 0) lists[r].Add(s);
            else free.Add(s);
        }
        var shuffled = free.ToArray();
        var random = new Random(Seed);
        for (int i = shuffled.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (shuffled[i], shuffled[j]) = (shuffled[j], shuffled[i]);
        }
        foreach (int s in shuffled)
        {
            int target = 0;
            for (int r = 1; r < Replicas; r++) if (lists[r].Count < lists[target].Count) target = r;
            lists[target].Add(s);
        }
        // Within a replica keep the caller's order: it changes nothing for correctness and makes micro-batches predictable.
        return new RequestPartition(n, lists.Select(l => l.Order().ToArray()).ToArray());
    }

    /// <summary>Sizes of <paramref name="parts"/> contiguous groups of <paramref name="count"/> items, as even as possible, the remainder first: (5, 2) -> [3, 2].</summary>
    public static int[] EvenSizes(int count, int parts)
    {
        if (parts < 1) throw new ArgumentOutOfRangeException(nameof(parts), $"At least one part is needed (got {parts}).");
        return Enumerable.Range(0, parts).Select(p => count / parts + (p < count % parts ? 1 : 0)).ToArray();
    }
}
