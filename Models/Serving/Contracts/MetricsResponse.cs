using Tessera.Generation;

namespace Tessera.Models.Serving.Contracts;

/// <summary><c>GET /metrics.json</c>: the batcher's aggregate, times in milliseconds, memory in bytes per device.</summary>
internal sealed record MetricsResponse(long Requests, long FailedRequests, long PromptTokens, long CompletionTokens, long Steps,
    LatencyMs TimeToFirstTokenMs, LatencyMs InterTokenLatencyMs, double PrefillTokensPerSecond, double DecodeTokensPerSecond, DeviceMemory[] Memory)
{
    public static MetricsResponse Of(BatcherMetrics m) => new(m.Requests, m.FailedRequests, m.PromptTokens, m.CompletionTokens, m.Steps,
        LatencyMs.Of(m.TimeToFirstToken), LatencyMs.Of(m.InterTokenLatency),
        Math.Round(m.PrefillTokensPerSecond, 1), Math.Round(m.DecodeTokensPerSecond, 1),
        m.Memory.Select(d => new DeviceMemory(d.Device, d.Weights, d.KvCache, d.Activations, d.Total)).ToArray());
}

internal sealed record LatencyMs(int Count, double Mean, double P50, double P95)
{
    public static LatencyMs Of(LatencySummary s) => new(s.Count, Math.Round(s.Mean.TotalMilliseconds, 3),
        Math.Round(s.P50.TotalMilliseconds, 3), Math.Round(s.P95.TotalMilliseconds, 3));
}

internal sealed record DeviceMemory(string Device, long Weights, long KvCache, long Activations, long Total);
