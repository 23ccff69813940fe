namespace Tessera.Generation;

/// <summary>The per-request latency histograms of the finished requests (every one, not a recent window), in seconds.</summary>
/// <param name="TimeToFirstToken">from submission until the first token</param>
/// <param name="InterToken">every gap between two consecutive tokens of a request</param>
/// <param name="EndToEnd">from submission until the request finished</param>
/// <param name="Queue">from submission until the request got a slot in the batch</param>
public sealed record RequestHistograms(LatencyHistogram TimeToFirstToken, LatencyHistogram InterToken, LatencyHistogram EndToEnd, LatencyHistogram Queue);
