using System.Text.Json.Nodes;
using Tessera.Generation;

namespace Tessera.Models.Serving;

/// <summary><c>GET /metrics</c>: the batcher's aggregate, times in milliseconds, memory in bytes per device.</summary>
internal static class MetricsJson
{
    public static JsonObject Of(BatcherMetrics m) => new()
    {
        ["requests"] = m.Requests,
        ["failed_requests"] = m.FailedRequests,
        ["prompt_tokens"] = m.PromptTokens,
        ["completion_tokens"] = m.CompletionTokens,
        ["steps"] = m.Steps,
        ["time_to_first_token_ms"] = Latency(m.TimeToFirstToken),
        ["inter_token_latency_ms"] = Latency(m.InterTokenLatency),
        ["prefill_tokens_per_second"] = Math.Round(m.PrefillTokensPerSecond, 1),
        ["decode_tokens_per_second"] = Math.Round(m.DecodeTokensPerSecond, 1),
        ["memory"] = new JsonArray(m.Memory.Select(d => (JsonNode)new JsonObject
        {
            ["device"] = d.Device, ["weights"] = d.Weights, ["kv_cache"] = d.KvCache, ["activations"] = d.Activations, ["total"] = d.Total,
        }).ToArray()),
    };

    private static JsonObject Latency(LatencySummary s) => new()
    {
        ["count"] = s.Count,
        ["mean"] = Math.Round(s.Mean.TotalMilliseconds, 3),
        ["p50"] = Math.Round(s.P50.TotalMilliseconds, 3),
        ["p95"] = Math.Round(s.P95.TotalMilliseconds, 3),
    };
}
