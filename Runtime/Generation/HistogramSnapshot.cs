namespace Tessera.Generation;

/// <summary>
/// A histogram at one moment, as Prometheus exposes one: per bucket the observations at most its upper bound
/// (cumulative, the last bucket +Inf, so <c>Cumulative[^1] == Count</c>), their sum and their count.
/// </summary>
/// <param name="Bounds">the finite upper bounds, ascending (the +Inf bucket is implied)</param>
/// <param name="Cumulative">observations &lt;= each bound, then all of them (one more entry than <paramref name="Bounds"/>)</param>
/// <param name="Sum">the sum of the observations (seconds, or tokens)</param>
public sealed record HistogramSnapshot(IReadOnlyList<double> Bounds, IReadOnlyList<long> Cumulative, double Sum)
{
    /// <summary>vLLM's buckets for time to first token, in seconds.</summary>
    internal static readonly double[] TimeToFirstTokenBounds =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

    /// <summary>vLLM's buckets for the time between two tokens of a request, in seconds.</summary>
    internal static readonly double[] InterTokenBounds =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];

    /// <summary>vLLM's buckets for a request's phases (end to end, queued, prefill, decode, inference), in seconds.</summary>
    internal static readonly double[] RequestBounds =
        [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    /// <summary>How many observations there are.</summary>
    public long Count => Cumulative[^1];

    /// <summary>vLLM's buckets for token counts: 1, 2, 5, 10, 20, 50, ... up to <paramref name="most"/> (the context).</summary>
    internal static double[] OneTwoFive(int most)
    {
        var bounds = new List<double>();
        for (long magnitude = 1; ; magnitude *= 10)
            foreach (int mantissa in new[] { 1, 2, 5 })
                if (mantissa * magnitude <= most) bounds.Add(mantissa * magnitude);
                else return [.. bounds];
    }
}
