namespace Tessera;

/// <summary>
/// The rows of one forward pass: the new tokens of one or more sequences, flattened (as vLLM does), each with its
/// position and its sequence's <see cref="KvCache"/>. Row r of every activation tensor belongs to token r.
/// </summary>
public sealed class TokenBatch
{
    private TokenBatch(int[] tokens, int[] positions, int[] sequenceOfRow, KvCache[] caches, int[] logitRows)
    {
        Tokens = tokens;
        Positions = positions;
        SequenceOfRow = sequenceOfRow;
        Caches = caches;
        LogitRows = logitRows;
    }

    /// <summary>(T) token ids.</summary>
    public int[] Tokens { get; }

    /// <summary>(T) absolute position of each token in its sequence.</summary>
    public int[] Positions { get; }

    /// <summary>(T) index into <see cref="Caches"/> of each row's sequence.</summary>
    public int[] SequenceOfRow { get; }

    public KvCache[] Caches { get; }

    /// <summary>The rows whose logits the caller wants (all rows, or the last row of each sequence when generating).</summary>
    public int[] LogitRows { get; }

    public int Rows => Tokens.Length;

    /// <summary>True when logits are wanted for every row (no gather before the head).</summary>
    public bool AllLogitRows => LogitRows.Length == Tokens.Length;

    /// <summary>One sequence: <paramref name="tokens"/> appended at the cache's current length.</summary>
    public static TokenBatch ForSequence(KvCache cache, ReadOnlySpan<int> tokens, bool lastLogitsOnly = false) =>
        ForSequences([cache], [tokens.ToArray()], lastLogitsOnly);

    /// <summary>Several sequences, each appended to its own cache; rows are laid out sequence after sequence.</summary>
    public static TokenBatch ForSequences(IReadOnlyList<KvCache> caches, IReadOnlyList<int[]> tokens, bool lastLogitsOnly = false)
    {
        if (caches.Count != tokens.Count)
            throw new ArgumentException("One token list is needed per cache.");
        int rows = 0;
        for (int s = 0; s < tokens.Count; s++)
        {
            if (tokens[s].Length == 0)
                throw new ArgumentException($"Sequence {s} has no tokens.");
            if (caches[s].Length + tokens[s].Length > caches[s].Capacity)
                throw new ContextOverflowException(caches[s].Length + tokens[s].Length, caches[s].Capacity);
            for (int t = 0; t < s; t++)
                if (ReferenceEquals(caches[t], caches[s]))
                    throw new ArgumentException("A cache may appear once per batch.");
            rows += tokens[s].Length;
        }

        var ids = new int[rows];
        var positions = new int[rows];
        var seq = new int[rows];
        var logitRows = new List<int>();
        int r = 0;
        for (int s = 0; s < tokens.Count; s++)
        {
            for (int t = 0; t < tokens[s].Length; t++, r++)
            {
                ids[r] = tokens[s][t];
                positions[r] = caches[s].Length + t;
                seq[r] = s;
                if (!lastLogitsOnly || t == tokens[s].Length - 1)
                    logitRows.Add(r);
            }
        }
        return new TokenBatch(ids, positions, seq, caches.ToArray(), logitRows.ToArray());
    }

    /// <summary>
    /// One rank's rows of a sequence-parallel batch: for each sequence, the tokens this rank holds and their positions
    /// (any subset of the sequence's new positions, possibly none: every rank of the group sees every sequence, so
    /// they agree on the sequence indices), appended to the rank's cache shards. <paramref name="wantsLogits"/>[s][t]
    /// says whether token t of sequence s is a logit row.
    /// </summary>
    public static TokenBatch ForShard(IReadOnlyList<KvCache> caches, IReadOnlyList<int[]> tokens, IReadOnlyList<int[]> positions, IReadOnlyList<bool[]> wantsLogits)
    {
        if (caches.Count != tokens.Count || tokens.Count != positions.Count || tokens.Count != wantsLogits.Count)
            throw new ArgumentException("A shard batch needs tokens, positions and logit flags for every cache.");
        int rows = tokens.Sum(t => t.Length);
        var ids = new int[rows];
        var pos = new int[rows];
        var seq = new int[rows];
        var logitRows = new List<int>();
        int r = 0;
        for (int s = 0; s < tokens.Count; s++)
        {
            if (positions[s].Length != tokens[s].Length || wantsLogits[s].Length != tokens[s].Length)
                throw new ArgumentException($"Sequence {s}: {tokens[s].Length} tokens but {positions[s].Length} positions and {wantsLogits[s].Length} logit flags.");
            for (int t = 0; t < tokens[s].Length; t++, r++)
            {
                if (positions[s][t] >= caches[s].Capacity)
                    throw new ContextOverflowException(positions[s][t] + 1, caches[s].Capacity);
                ids[r] = tokens[s][t];
                pos[r] = positions[s][t];
                seq[r] = s;
                if (wantsLogits[s][t]) logitRows.Add(r);
            }
        }
        return new TokenBatch(ids, pos, seq, caches.ToArray(), logitRows.ToArray());
    }

    /// <summary>
    /// Has the engine write this batch's logits into <paramref name="destination"/> (exactly LogitRows x vocab floats)
    /// and return it, instead of a new array. A decoder passes the same array at every step, so that a step allocates
    /// no logits: a 32k vocabulary's row is 128 KB, a large object whose fresh pages fault on their first write (2,000
    /// page faults per 64-token generation of a 24M model). The array is overwritten by the next forward given it.
    /// An array of another length is ignored (the engine allocates as usual).
    /// </summary>
    public TokenBatch WithLogitsInto(float[] destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        _logitsDestination = destination;
        return this;
    }

    private float[]? _logitsDestination;

    /// <summary>
    /// For engines: the array the batch's logits (LogitRows x <paramref name="vocab"/>) go into — the caller's
    /// (<see cref="WithLogitsInto"/>) when it has that length, else a new one.
    /// </summary>
    public float[] LogitsArray(int vocab)
    {
        long length = (long)LogitRows.Length * vocab;
        return _logitsDestination is { } destination && destination.LongLength == length ? destination : new float[length];
    }

    /// <summary>Marks the batch's tokens as cached: each cache's length grows by its sequence's rows. Called by engines after a forward.</summary>
    public void Commit()
    {
        var counts = new int[Caches.Length];
        foreach (int s in SequenceOfRow) counts[s]++;
        for (int s = 0; s < Caches.Length; s++) Caches[s].Length += counts[s];
    }
}
