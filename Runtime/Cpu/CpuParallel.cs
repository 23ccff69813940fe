namespace Tessera.Cpu;

/// <summary>
/// Splits kernel work into contiguous ranges, one per worker, run by a <see cref="CpuTeam"/>. Small work runs inline on
/// the caller: even a spinning team's fork/join costs about a microsecond, more than a tiny test-model product takes.
/// </summary>
internal static class CpuParallel
{
    /// <summary>Below this much work (about one flop or one byte per unit) a second thread does not pay for its wake-up.</summary>
    public const long MinWorkPerWorker = 64 * 1024;

    /// <summary>How many workers to use for <paramref name="items"/> items of <paramref name="workPerItem"/> work each, within <paramref name="cpu"/>'s threads.</summary>
    public static int Workers(CpuExecution cpu, int items, long workPerItem)
    {
        long byWork = Math.Max(1, items * workPerItem / MinWorkPerWorker);
        return (int)Math.Min(Math.Min(cpu.Threads, items), byWork);
    }

    /// <summary>
    /// Runs <paramref name="body"/>(start, end) over <paramref name="workers"/> contiguous ranges covering [0, items).
    /// Contiguous ranges keep each worker on neighbouring rows, so what it packs or caches stays its own.
    /// </summary>
    public static void ForRanges(int items, int workers, Action<int, int> body)
    {
        if (workers <= 1 || items <= 1)
        {
            if (items > 0) body(0, items);
            return;
        }
        workers = Math.Min(workers, items);
        CpuTeam.Run(workers, w =>
        {
            int start = (int)((long)items * w / workers), end = (int)((long)items * (w + 1) / workers);
            if (end > start) body(start, end);
        });
    }

    /// <summary>
    /// Runs <paramref name="body"/>(item) for every item in [0, items), handed out dynamically: for items of unequal
    /// cost (causal attention rows: row t attends to t + 1 positions), where equal ranges would leave a core idle.
    /// </summary>
    public static void ForEach(int items, int workers, Action<int> body)
    {
        if (workers <= 1 || items <= 1)
        {
            for (int i = 0; i < items; i++) body(i);
            return;
        }
        int next = -1;
        CpuTeam.Run(Math.Min(workers, items), _ =>
        {
            for (int item = Interlocked.Increment(ref next); item < items; item = Interlocked.Increment(ref next)) body(item);
        });
    }
}
