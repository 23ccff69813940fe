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

/// <summary>Which replica serves which sequence, and the way back to the caller's order.</summary>
public sealed class RequestPartition
{
    private readonly (int Replica, int Index)[] _where;

    internal RequestPartition(int sequences, int[][] sequencesOfReplica)
    {
        SequencesOfReplica = sequencesOfReplica;
        _where = new (int, int)[sequences];
        for (int r = 0; r < sequencesOfReplica.Length; r++)
            for (int i = 0; i < sequencesOfReplica[r].Length; i++)
                _where[sequencesOfReplica[r][i]] = (r, i);
    }

    /// <summary>The caller's sequence indices each replica runs, in the order it runs them.</summary>
    public IReadOnlyList<int[]> SequencesOfReplica { get; }

    public int Sequences => _where.Length;

    /// <summary>Where sequence <paramref name="sequence"/> (the caller's index) went.</summary>
    public (int Replica, int Index) Locate(int sequence) => _where[sequence];

    /// <summary>Puts per-replica outputs (replica r's i-th output belongs to SequencesOfReplica[r][i]) back in the caller's order.</summary>
    public T[] Restore<T>(IReadOnlyList<IReadOnlyList<T>> perReplica)
    {
        if (perReplica.Count != SequencesOfReplica.Count)
            throw new ArgumentException($"Expected outputs of {SequencesOfReplica.Count} replicas, got {perReplica.Count}.", nameof(perReplica));
        var result = new T[Sequences];
        for (int s = 0; s < Sequences; s++)
        {
            var (r, i) = _where[s];
            result[s] = perReplica[r][i];
        }
        return result;
    }
}
