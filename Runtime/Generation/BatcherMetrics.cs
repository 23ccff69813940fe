namespace Tessera.Generation;

/// <summary>
/// The aggregate of every request a <see cref="ContinuousBatcher"/> has finished, and its engine's memory, at one moment.
/// Throughputs are per step kind: prefill tokens over the time of the steps that ran a prompt (decode rows riding along
/// included), decode tokens over the time of the steps that ran only decode rows.
/// </summary>
/// <param name="Requests">requests that finished normally</param>
/// <param name="FailedRequests">requests that failed or were cancelled</param>
/// <param name="PromptTokens">tokens prefilled</param>
/// <param name="CompletionTokens">tokens generated</param>
/// <param name="Steps">forwards run</param>
/// <param name="TimeToFirstToken">over the finished requests</param>
/// <param name="InterTokenLatency">over the gaps between consecutive tokens of the recent requests</param>
/// <param name="PrefillTokensPerSecond">prompt tokens per second of the steps that ran a prompt</param>
/// <param name="DecodeTokensPerSecond">tokens per second of the decode-only steps</param>
/// <param name="Memory">per device</param>
public sealed record BatcherMetrics(
    long Requests, long FailedRequests, long PromptTokens, long CompletionTokens, long Steps,
    LatencySummary TimeToFirstToken, LatencySummary InterTokenLatency, double PrefillTokensPerSecond, double DecodeTokensPerSecond,
    IReadOnlyList<DeviceMemoryUsage> Memory)
{
    /// <summary>Sequences in flight (holding a slot) at the snapshot.</summary>
    public int Running { get; init; }

    /// <summary>Requests queued for a slot at the snapshot.</summary>
    public int Waiting { get; init; }

    /// <summary>
    /// The fraction of the KV-cache room in use (0 to 1): under a KV-cache limit, the positions counted for the sequences in
    /// flight over the limit; without one, the positions they hold over a full context for every slot.
    /// </summary>
    public double KvCacheUsage { get; init; }

    /// <summary>How the requests ended, by reason.</summary>
    public RequestOutcomes Outcomes { get; init; } = RequestOutcomes.None;

    /// <summary>Latency histograms of the finished requests; null when the snapshot has none.</summary>
    public RequestHistograms? Histograms { get; init; }
}
