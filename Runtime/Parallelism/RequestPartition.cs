namespace Tessera.Parallelism;

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
