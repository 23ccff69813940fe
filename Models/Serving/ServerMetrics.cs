using Tessera.Generation;

namespace Tessera.Models.Serving;

/// <summary>
/// <c>GET /metrics</c>: a batcher's <see cref="BatcherMetrics"/> under vLLM's metric names and its <c>model_name</c>
/// label (the first served name), so that dashboards and alerts written for vLLM read a Tessera server unchanged.
/// Histogram buckets are vLLM's. Where vLLM renamed a metric both names are written (the KV-cache usage, the time per
/// output token), as dashboards still read the old ones. Per-device memory has no vLLM name: <c>tessera:memory_bytes</c>.
/// </summary>
/// <remarks>
/// Hand-written rather than prometheus-net: the series are few and fixed, their values are one snapshot of the
/// batcher taken per scrape (nothing to register or update as requests run), and no process-wide registry is shared by
/// the servers a test process starts.
/// </remarks>
internal static class ServerMetrics
{
    public static string Write(BatcherMetrics m, string modelName)
    {
        var text = new PrometheusText(("model_name", modelName));
        text.Gauge("vllm:num_requests_running", "Number of requests in model execution batches.", m.Running);
        text.Gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", m.Waiting);
        text.Gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", m.KvCacheUsage);
        text.Gauge("vllm:gpu_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage (vLLM's name before vllm:kv_cache_usage_perc).", m.KvCacheUsage);
        text.Counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", m.PromptTokens);
        text.Counter("vllm:generation_tokens_total", "Number of generation tokens processed.", m.CompletionTokens);
        var outcomes = m.Outcomes;
        text.Family("vllm:request_success_total", "Count of finished requests, by finish reason.", "counter",
        [
            ([("finished_reason", "stop")], outcomes.Stop), ([("finished_reason", "length")], outcomes.Length),
            ([("finished_reason", "abort")], outcomes.Abort), ([("finished_reason", "error")], outcomes.Error),
        ]);
        if (m.Histograms is { } h)
        {
            text.Histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", h.TimeToFirstToken);
            text.Histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", h.InterToken);
            text.Histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds (the same as vllm:inter_token_latency_seconds).", h.InterToken);
            text.Histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", h.EndToEnd);
            text.Histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", h.Queue);
            text.Histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", h.Prefill);
            text.Histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", h.Decode);
            text.Histogram("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", h.Inference);
            text.Histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", h.PromptTokens);
            text.Histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", h.GenerationTokens);
        }
        text.Family("tessera:memory_bytes", "Bytes a device holds, by device and kind (weights, kv_cache, activations).", "gauge",
            m.Memory.SelectMany(d => new (string Kind, long Bytes)[] { ("weights", d.Weights), ("kv_cache", d.KvCache), ("activations", d.Activations) }
                .Select(k => (new[] { ("device", d.Device), ("kind", k.Kind) }, (double)k.Bytes))));
        return text.ToString();
    }
}
