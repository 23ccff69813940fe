using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// GET /health and the answers around it: a server listens before its model is loaded and answers 503
/// "model_loading" (retryable, with Retry-After) until it serves, then 200; once it stops taking requests /health and
/// the API answer 503 "shutting_down", which OpenAI's SDKs are told not to retry.
/// </summary>
public sealed class HealthTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static JsonObject Completion(int maxTokens) => new() { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = maxTokens, ["temperature"] = 0 };

    private static async Task<JsonNode> ErrorOf(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(text)!["error"]!;
    }

    [Fact]
    public async Task WhileTheModelLoads_HealthAndTheApiAnswer503ModelLoading_ThenTheServerServes()
    {
        await using var server = await CompletionServer.StartLoadingAsync("tiny-llama");
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = Timeout };

        Assert.Equal(ServerHealth.Loading, server.Health);
        using (var health = await client.GetAsync("/health"))
        {
            Assert.Equal("model_loading", (string?)(await ErrorOf(health, HttpStatusCode.ServiceUnavailable))["code"]);
            Assert.Equal("5", health.Headers.GetValues("Retry-After").Single());
            Assert.False(health.Headers.Contains("x-should-retry")); // retryable: the model will be there
        }
        foreach (var refused in new[] { await client.PostAsync("/v1/completions", Json(Completion(2))), await client.GetAsync("/v1/models"), await client.GetAsync("/metrics") })
            using (refused)
                Assert.Equal("model_loading", (string?)(await ErrorOf(refused, HttpStatusCode.ServiceUnavailable))["code"]);

        var tokenizer = new ByteTokenizer();
        await using var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
        server.Ready(batcher, tokenizer);

        Assert.Equal(ServerHealth.Ready, server.Health);
        using var healthy = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
        using var served = await client.PostAsync("/v1/completions", Json(Completion(2)));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Throws<InvalidOperationException>(() => server.Ready(batcher, tokenizer));
    }

    [Fact]
    public async Task OnceTheBatcherStopsTakingRequests_HealthAndTheApiAnswer503ShuttingDown_NotToBeRetried()
    {
        var tokenizer = new ByteTokenizer();
        var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
        await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = Timeout };
        using (var healthy = await client.GetAsync("/health"))
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);

        await batcher.ShutdownAsync();

        Assert.Equal(ServerHealth.ShuttingDown, server.Health);
        using var health = await client.GetAsync("/health");
        Assert.Equal("shutting_down", (string?)(await ErrorOf(health, HttpStatusCode.ServiceUnavailable))["code"]);
        using var refused = await client.PostAsync("/v1/completions", Json(Completion(2)));
        Assert.Equal("shutting_down", (string?)(await ErrorOf(refused, HttpStatusCode.ServiceUnavailable))["code"]);
        Assert.Equal("false", refused.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task ARequestCancelledByAStoppingBatcher_Gets503ShuttingDown_NotToBeRetried()
    {
        using var release = new ManualResetEventSlim();
        var engine = HookedEngine.TinyLlama();
        engine.OnForward = _ => release.Wait(Timeout);
        var tokenizer = new ByteTokenizer();
        var batcher = new ContinuousBatcher(engine, tokenizer);
        await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = Timeout };
        var pending = client.PostAsync("/v1/completions", Json(Completion(20)));
        while (Volatile.Read(ref engine.Forwards) == 0) await Task.Delay(5);

        var stopping = batcher.DisposeAsync();
        release.Set();
        await stopping;
        using var cancelled = await pending;

        Assert.Equal("shutting_down", (string?)(await ErrorOf(cancelled, HttpStatusCode.ServiceUnavailable))["code"]);
        Assert.Equal("false", cancelled.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task WhenTheHostStops_HealthReportsShuttingDown()
    {
        var tokenizer = new ByteTokenizer();
        await using var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
        var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");

        await server.StopAsync();

        Assert.Equal(ServerHealth.ShuttingDown, server.Health);
        await server.DisposeAsync();
        await server.DisposeAsync(); // twice is harmless
    }
}
