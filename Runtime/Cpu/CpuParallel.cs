namespace Tessera.Cpu;

/// <summary>
/// Splits kernel work into contiguous ranges, one per worker. Small work runs inline on the caller: a fork/join
/// costs a few microseconds, more than a decode-sized norm or a tiny test-model matmul takes on one core.
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
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
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
        Parallel.For(0, items, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(workers, items) }, body);
    }
}
