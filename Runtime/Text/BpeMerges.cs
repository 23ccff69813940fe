namespace Tessera.Text;

/// <summary>
/// Rank-ordered BPE merges over token ids: a piece's symbols are merged lowest rank first (leftmost on ties), the
/// Hugging Face order, which equals GPT-2's "merge every occurrence of the best pair" for merge lists where a merged
/// token is only merged further by later merges (every trained list). Thread-safe: per-call state is thread-static.
/// </summary>
internal sealed class BpeMerges
{
    private readonly Dictionary<long, (int Rank, int Result)> _merges;

    [ThreadStatic] private static PriorityQueue<int, long>? t_queue;
    [ThreadStatic] private static int[]? t_next;
    [ThreadStatic] private static int[]? t_prev;

    /// <summary>
    /// Pieces of up to this many symbols merge in scratch kept per thread; a longer piece gets scratch of its own,
    /// dropped after the call. Kept scratch sized to the longest piece ever seen would hold tens of MB on every
    /// server thread that once tokenized a 1 MB word (a priority queue of a million entries and two int arrays).
    /// </summary>
    internal const int KeptScratchSymbols = 4096;

    /// <summary>The symbols this thread's kept scratch holds (for tests).</summary>
    internal static int KeptScratchLength => t_next?.Length ?? 0;

    /// <summary>The merges in rank order: (left, right) makes result; a repeated pair keeps its first (best) rank.</summary>
    public BpeMerges(IReadOnlyList<(int Left, int Right, int Result)> merges)
    {
        _merges = new Dictionary<long, (int Rank, int Result)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
            _merges.TryAdd(Key(merges[rank].Left, merges[rank].Right), (rank, merges[rank].Result));
    }

    /// <summary>
    /// Hashes a pair key by multiplying it by 2^64 / golden ratio (Fibonacci hashing). long.GetHashCode would give
    /// left ^ right: pairs of small ids — byte tokens and early merges, the most looked-up pairs — collided in a few
    /// hundred buckets, and lookups walked long chains.
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();

        public bool Equals(long x, long y) => x == y;

        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    public int Count => _merges.Count;

    /// <summary>How the table hashes its pair keys (for tests).</summary>
    internal IEqualityComparer<long> Comparer => _merges.Comparer;

    public static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    public bool TryGet(int left, int right, out int rank, out int result)
    {
        if (_merges.TryGetValue(Key(left, right), out var merge))
        {
            (rank, result) = merge;
            return true;
        }
        rank = result = -1;
        return false;
    }

    /// <summary>Merges <paramref name="symbols"/> in place; returns how many symbols remain (at the front).</summary>
    public int Apply(Span<int> symbols)
    {
        int n = symbols.Length;
        if (n < 2) return n;
        if (n == 2)
        {
            if (!TryGet(symbols[0], symbols[1], out _, out int merged)) return 2;
            symbols[0] = merged;
            return 1;
        }

        PriorityQueue<int, long> queue;
        int[] next, prev;
        if (n <= KeptScratchSymbols)
        {
            queue = t_queue ??= new PriorityQueue<int, long>();
            queue.Clear();
            if (t_next is null || t_next.Length < n)
            {
                t_next = new int[Math.Max(n, 64)];
                t_prev = new int[Math.Max(n, 64)];
            }
            next = t_next;
            prev = t_prev!;
        }
        else
        {
            queue = new PriorityQueue<int, long>(n);
            next = new int[n];
            prev = new int[n];
        }
        for (int i = 0; i < n; i++)
        {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        for (int i = 0; i + 1 < n; i++)
            if (TryGet(symbols[i], symbols[i + 1], out int rank, out _))
                queue.Enqueue(i, Priority(rank, i));

        while (queue.TryDequeue(out int pos, out long priority))
        {
            if (symbols[pos] < 0) continue;
            int right = next[pos];
            if (right < 0) continue;
            if (!TryGet(symbols[pos], symbols[right], out int rank, out int result) || rank != (int)(priority >> 32)) continue; // stale

            symbols[pos] = result;
            symbols[right] = -1;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) prev[after] = pos;

            int before = prev[pos];
            if (before >= 0 && TryGet(symbols[before], symbols[pos], out int leftRank, out _)) queue.Enqueue(before, Priority(leftRank, before));
            if (after >= 0 && TryGet(symbols[pos], symbols[after], out int rightRank, out _)) queue.Enqueue(pos, Priority(rightRank, pos));
        }

        int count = 0;
        for (int i = 0; i >= 0; i = next[i]) symbols[count++] = symbols[i];
        return count;
    }

    private static long Priority(int rank, int position) => ((long)rank << 32) | (uint)position;
}
