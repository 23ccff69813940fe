using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// GET /metrics speaks Prometheus' text format (0.0.4) under vLLM's metric names and model_name label: gauges of the
/// queue and the KV cache, token counters, requests by finish reason, and latency histograms with vLLM's buckets
/// (cumulative, ending with +Inf equal to _count, then _sum and _count).
/// </summary>
public sealed class PrometheusMetricsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Every sample line of the exposition: (name, labels as written, value).</summary>
    private static List<(string Name, string Labels, double Value)> Samples(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Where(l => !l.StartsWith('#'))
        .Select(line =>
        {
            int space = line.LastIndexOf(' ');
            string series = line[..space];
            int brace = series.IndexOf('{');
            double value = line[(space + 1)..] == "+Inf" ? double.PositiveInfinity : double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
            return brace < 0 ? (series, "", value) : (series[..brace], series[(brace + 1)..^1], value);
        })
        .ToList();

    private static double Value(List<(string Name, string Labels, double Value)> samples, string name, string labels) =>
        samples.Single(s => s.Name == name && s.Labels == labels).Value;

    [Fact]
    public async Task Metrics_AreVllmsNamesInPrometheusTextFormat_WithTheModelNameLabel()
    {
        await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 3, ["temperature"] = 0 });

        using var response = await server.Client.GetAsync("/metrics");
        string text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(response.Content.Headers.ContentType!.Parameters, p => p.Name == "version" && p.Value == "0.0.4");
        foreach (var (name, type) in new[]
                 {
                     ("vllm:num_requests_running", "gauge"), ("vllm:num_requests_waiting", "gauge"), ("vllm:kv_cache_usage_perc", "gauge"),
                     ("vllm:gpu_cache_usage_perc", "gauge"), ("vllm:prompt_tokens_total", "counter"), ("vllm:generation_tokens_total", "counter"),
                     ("vllm:request_success_total", "counter"), ("vllm:time_to_first_token_seconds", "histogram"),
                     ("vllm:inter_token_latency_seconds", "histogram"), ("vllm:time_per_output_token_seconds", "histogram"),
                     ("vllm:e2e_request_latency_seconds", "histogram"), ("vllm:request_queue_time_seconds", "histogram"),
                     ("vllm:request_prefill_time_seconds", "histogram"), ("vllm:request_decode_time_seconds", "histogram"),
                     ("vllm:request_inference_time_seconds", "histogram"), ("vllm:request_prompt_tokens", "histogram"),
                     ("vllm:request_generation_tokens", "histogram"),
                 })
        {
            Assert.Contains($"\n# TYPE {name} {type}\n", "\n" + text);
            Assert.Contains($"# HELP {name} ", text);
        }
        var samples = Samples(text);
        const string model = "model_name=\"tiny-llama\"";
        Assert.All(samples.Where(s => s.Name.StartsWith("vllm:", StringComparison.Ordinal)), s => Assert.StartsWith(model, s.Labels));
        Assert.True(Value(samples, "vllm:prompt_tokens_total", model) >= 2);
        Assert.True(Value(samples, "vllm:generation_tokens_total", model) >= 1);
        Assert.True(Value(samples, "vllm:request_success_total", model + ",finished_reason=\"length\"")
                    + Value(samples, "vllm:request_success_total", model + ",finished_reason=\"stop\"") >= 1);
        Assert.Contains(samples, s => s.Name == "vllm:request_success_total" && s.Labels == model + ",finished_reason=\"abort\"");
        Assert.True(Value(samples, "tessera:memory_bytes", model + ",device=\"cpu:0\",kind=\"weights\"") > 0);
        Assert.InRange(Value(samples, "vllm:kv_cache_usage_perc", model), 0, 1);
    }

    [Theory]
    [InlineData("vllm:time_to_first_token_seconds")]
    [InlineData("vllm:inter_token_latency_seconds")]
    [InlineData("vllm:e2e_request_latency_seconds")]
    [InlineData("vllm:request_queue_time_seconds")]
    [InlineData("vllm:request_prefill_time_seconds")]
    [InlineData("vllm:request_decode_time_seconds")]
    [InlineData("vllm:request_inference_time_seconds")]
    [InlineData("vllm:request_prompt_tokens")]
    [InlineData("vllm:request_generation_tokens")]
    public async Task AHistogram_HasCumulativeBucketsEndingWithInfEqualToItsCount(string name)
    {
        await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hello", ["max_tokens"] = 4, ["temperature"] = 0 });

        var samples = Samples(await server.Client.GetStringAsync("/metrics"));

        var buckets = samples.Where(s => s.Name == name + "_bucket").ToList();
        Assert.True(buckets.Count > 1);
        var bounds = buckets.Select(b => b.Labels[(b.Labels.IndexOf("le=\"", StringComparison.Ordinal) + 4)..^1]).ToList();
        Assert.Equal("+Inf", bounds[^1]);
        var finite = bounds[..^1].Select(b => double.Parse(b, CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(finite.Order(), finite);
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value)); // cumulative: never decreasing
        double count = samples.Single(s => s.Name == name + "_count").Value;
        Assert.Equal(count, buckets[^1].Value);
        Assert.True(count >= 1);
        Assert.True(samples.Single(s => s.Name == name + "_sum").Value >= 0);
    }

    [Fact]
    public async Task RunningAndWaiting_CountTheRequestsInFlightAndQueued()
    {
        using var release = new ManualResetEventSlim();
        var engine = HookedEngine.TinyLlama();
        engine.OnForward = _ => release.Wait(Timeout);
        var tokenizer = new ByteTokenizer();
        await using var batcher = new ContinuousBatcher(engine, tokenizer, new BatcherLimits { MaxInFlight = 1 });
        await using var served = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");
        using var client = new HttpClient { BaseAddress = served.Address, Timeout = Timeout };
        var body = new JsonObject { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = 2, ["temperature"] = 0 }.ToJsonString();
        var first = client.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        while (Volatile.Read(ref engine.Forwards) == 0) await Task.Delay(5);
        var second = client.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        while (batcher.Metrics.Waiting == 0) await Task.Delay(5);

        var samples = Samples(await client.GetStringAsync("/metrics"));
        release.Set();
        using var a = await first;
        using var b = await second;

        const string model = "model_name=\"tiny-llama\"";
        Assert.Equal(1, Value(samples, "vllm:num_requests_running", model));
        Assert.Equal(1, Value(samples, "vllm:num_requests_waiting", model));
        Assert.Equal(HttpStatusCode.OK, a.StatusCode);
        Assert.Equal(HttpStatusCode.OK, b.StatusCode);
        Assert.Equal(0, batcher.Metrics.Running);
        Assert.Equal(0, batcher.Metrics.Waiting);
    }

    [Fact]
    public void TheExposition_EscapesLabelValuesAndHelp_AndSpellsInfinityAsPrometheusDoes()
    {
        var text = new PrometheusText(("model_name", "a \"b\" \\ c\nd"));
        text.Gauge("x:g", "line one\nline two \\ end", double.PositiveInfinity);
        text.Counter("x:c_total", "a counter", 2.5);

        Assert.Equal(
            "# HELP x:g line one\\nline two \\\\ end\n# TYPE x:g gauge\nx:g{model_name=\"a \\\"b\\\" \\\\ c\\nd\"} +Inf\n" +
            "# HELP x:c_total a counter\n# TYPE x:c_total counter\nx:c_total{model_name=\"a \\\"b\\\" \\\\ c\\nd\"} 2.5\n",
            text.ToString());
        Assert.Equal("NaN", PrometheusText.Number(double.NaN));
        Assert.Equal("-Inf", PrometheusText.Number(double.NegativeInfinity));
        Assert.Equal("1E-05", PrometheusText.Number(0.00001));
    }

    [Fact]
    public void AnObservationOnABucketsBound_CountsInThatBucket_AsLeMeansLessOrEqual()
    {
        var histogram = new HistogramCounter([0.1, 1.0]);
        histogram.Observe(TimeSpan.FromSeconds(0.1));
        histogram.Observe(TimeSpan.FromSeconds(0.5));
        histogram.Observe(TimeSpan.FromSeconds(3));

        var snapshot = histogram.Snapshot();

        Assert.Equal([1L, 2L, 3L], snapshot.Cumulative);
        Assert.Equal(3, snapshot.Count);
        Assert.Equal(3.6, snapshot.Sum, 9);
    }

    [Fact]
    public void TokenCountBuckets_AreVllms125Series_UpToTheContext()
    {
        Assert.Equal([1.0, 2, 5, 10, 20, 50], HistogramSnapshot.OneTwoFive(64));
        Assert.Equal([1.0, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000], HistogramSnapshot.OneTwoFive(2048));
    }
}
