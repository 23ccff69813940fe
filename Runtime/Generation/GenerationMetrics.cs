namespace Tessera.Generation;

/// <summary>Latency and throughput of one request.</summary>
/// <param name="PromptTokens">tokens prefilled</param>
/// <param name="CompletionTokens">tokens generated</param>
/// <param name="QueueTime">from submission until the request got a slot in the batch</param>
/// <param name="TimeToFirstToken">from submission until its first token was sampled (queueing and prefill included)</param>
/// <param name="PrefillTime">the forward that ran its prompt (shared with the other sequences of that step)</param>
/// <param name="InterTokenLatency">the gaps between consecutive tokens</param>
/// <param name="Total">from submission until it finished</param>
public sealed record GenerationMetrics(
    int PromptTokens, int CompletionTokens, TimeSpan QueueTime, TimeSpan TimeToFirstToken, TimeSpan PrefillTime, LatencySummary InterTokenLatency, TimeSpan Total)
{
    /// <summary>Prompt tokens per second of its prefill step.</summary>
    public double PrefillTokensPerSecond => PromptTokens / Math.Max(PrefillTime.TotalSeconds, 1e-9);

    /// <summary>Tokens per second after the first (the first comes from the prefill).</summary>
    public double DecodeTokensPerSecond => Math.Max(CompletionTokens - 1, 0) / Math.Max((Total - TimeToFirstToken).TotalSeconds, 1e-9);
}
