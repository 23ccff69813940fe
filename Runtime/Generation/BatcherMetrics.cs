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
    IReadOnlyList<DeviceMemoryUsage> Memory);
