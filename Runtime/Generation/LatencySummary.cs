namespace Tessera.Generation;

/// <summary>Mean and percentiles of a set of latencies (all zero when there are none).</summary>
public sealed record LatencySummary(int Count, TimeSpan Mean, TimeSpan P50, TimeSpan P95)
{
    public static LatencySummary Empty { get; } = new(0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>Summarises the samples (nearest-rank percentiles).</summary>
    public static LatencySummary Of(IEnumerable<TimeSpan> samples)
    {
        var sorted = samples.Order().ToArray();
        if (sorted.Length == 0) return Empty;
        var mean = TimeSpan.FromTicks((long)sorted.Average(s => s.Ticks));
        return new LatencySummary(sorted.Length, mean, Percentile(sorted, 0.50), Percentile(sorted, 0.95));
    }

    private static TimeSpan Percentile(TimeSpan[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
