using System.Collections.Concurrent;

namespace Tessera.Text;

/// <summary>
/// Merged pieces by their text, bounded by bytes: a count limit let 60 distinct 5 MB prompts grow a server from 74 MB to
/// 3.9 GB for good (issue 15). When an entry would pass <see cref="ByteBudget"/>, the cache starts over empty; the common
/// pieces come back within a few requests. Thread-safe: the tokenizer is shared by all requests.
/// </summary>
/// <remarks>
/// A request's pieces are cached while it is encoded, before anyone knows whether it will be refused (too long for the
/// context, say), so a hostile request can still flush the cache — but never grow it past the budget, and a piece
/// longer than <see cref="MaxPieceLength"/> is never kept at all.
/// </remarks>
internal sealed class PieceCache
{
    /// <summary>About 100,000 word-sized pieces; a large vocabulary's working set of words fits with room to spare.</summary>
    public const long ByteBudget = 16L << 20;

    /// <summary>
    /// Words are a few dozen characters at most; longer pieces (runs of spaces or digits, base64, one 5 MB "word") seldom
    /// repeat, and re-merging one costs little next to reading it, so they are not worth their bytes.
    /// </summary>
    public const int MaxPieceLength = 256;

    /// <summary>One cache's entries and the bytes reserved for them.</summary>
    private sealed class Generation
    {
        public readonly ConcurrentDictionary<string, int[]> Entries = new(StringComparer.Ordinal);
        public long Bytes;
    }

    private Generation _current = new();

    /// <summary>
    /// Approximate managed bytes of one entry: the key string (header + UTF-16), the id array (header + ints) and the
    /// dictionary's node and bucket.
    /// </summary>
    public static long Cost(string piece, int[] ids) => 104 + 2L * piece.Length + 4L * ids.Length;

    public bool TryGet(string piece, out int[] ids) => Volatile.Read(ref _current).Entries.TryGetValue(piece, out ids!);

    public void Add(string piece, int[] ids)
    {
        if (piece.Length > MaxPieceLength) return;
        long cost = Cost(piece, ids);
        while (true)
        {
            var generation = Volatile.Read(ref _current);
            // Reserve the bytes first, so that threads adding at once never take the cache past its budget together.
            if (Interlocked.Add(ref generation.Bytes, cost) <= ByteBudget)
            {
                if (!generation.Entries.TryAdd(piece, ids)) Interlocked.Add(ref generation.Bytes, -cost);
                return;
            }
            // Full: start over. Another thread may have started over already; then add to its new generation.
            Interlocked.CompareExchange(ref _current, new Generation(), generation);
        }
    }

    /// <summary>For tests: the entries held now and their bytes, counted from the entries themselves.</summary>
    internal (int Count, long Bytes) Usage()
    {
        var entries = Volatile.Read(ref _current).Entries;
        return (entries.Count, entries.Sum(e => Cost(e.Key, e.Value)));
    }
}
