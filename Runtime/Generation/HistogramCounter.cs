namespace Tessera.Generation;

/// <summary>
/// The counts behind a <see cref="HistogramSnapshot"/>: one count per bucket, found by a binary search per observation
/// (no allocation). Not thread-safe: its owner (<see cref="MetricsCollector"/>) holds a lock around it.
/// </summary>
internal sealed class HistogramCounter(double[] bounds)
{
    private readonly long[] _counts = new long[bounds.Length + 1]; // per bucket, not cumulative; the last is +Inf
    private double _sum;

    public void Observe(TimeSpan value) => Observe(value.TotalSeconds);

    public void Observe(double value)
    {
        int bucket = Array.BinarySearch(bounds, value);
        _counts[bucket >= 0 ? bucket : ~bucket]++; // an exact bound counts in its own bucket (le: less or equal)
        _sum += value;
    }

    public HistogramSnapshot Snapshot()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++) cumulative[i] = running += _counts[i];
        return new HistogramSnapshot(bounds, cumulative, _sum);
    }
}
