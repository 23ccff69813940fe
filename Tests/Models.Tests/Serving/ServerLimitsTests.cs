using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// The limits a server needs, over HTTP on loopback: max_tokens bounded by the server, a bounded queue (429), a
/// KV-cache budget (400 for a request that could never fit), a request timeout (408, or an error event in a stream),
/// a failed KV allocation that fails its request alone (503), and a stop that takes seconds, not minutes.
/// </summary>
public sealed class ServerLimitsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private sealed class Served(HookedEngine engine, ContinuousBatcher batcher, CompletionServer server) : IAsyncDisposable
    {
        public HookedEngine Engine => engine;

        public HttpClient Client { get; } = new() { BaseAddress = server.Address, Timeout = Timeout };

        public CompletionServer Server => server;

        public Task<HttpResponseMessage> PostAsync(string path, JsonObject body) =>
            Client.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await server.DisposeAsync();
            await batcher.DisposeAsync();
        }
    }

    private static async Task<Served> StartAsync(HookedEngine engine, BatcherLimits? limits = null, ServerOptions? options = null)
    {
        var tokenizer = new ByteTokenizer();
        var batcher = new ContinuousBatcher(engine, tokenizer, limits ?? new BatcherLimits());
        var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama", options: options);
        return new Served(engine, batcher, server);
    }

    private static JsonObject Completion(int maxTokens) => new() { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = maxTokens, ["temperature"] = 0 };

    private static async Task<JsonNode> ErrorOf(HttpResponseMessage response, HttpStatusCode status)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        return error;
    }

    [Fact]
    public async Task MaxTokensPastTheServersLimit_Is400_AndAChatWithoutMaxTokensStopsAtTheLimit()
    {
        await using var served = await StartAsync(HookedEngine.TinyLlama(), options: new ServerOptions { MaxTokens = 5 });

        using var refused = await served.PostAsync("/v1/completions", Completion(6));
        var error = await ErrorOf(refused, HttpStatusCode.BadRequest);
        Assert.Equal("max_tokens", (string?)error["param"]);

        var chat = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }), ["temperature"] = 0 };
        using var answered = await served.PostAsync("/v1/chat/completions", chat);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        int completionTokens = (int)JsonNode.Parse(await answered.Content.ReadAsStringAsync())!["usage"]!["completion_tokens"]!;
        Assert.InRange(completionTokens, 1, 5);
    }

    [Fact]
    public async Task WhenTheQueueIsFull_TheNextRequestGets429WithRetryAfter_Retryable_AndTheServerGoesOn()
    {
        using var release = new ManualResetEventSlim();
        var engine = HookedEngine.TinyLlama();
        engine.OnForward = _ => release.Wait(Timeout);
        await using var served = await StartAsync(engine, new BatcherLimits { MaxInFlight = 1, MaxQueued = 0 });

        var running = served.PostAsync("/v1/completions", Completion(2));
        while (Volatile.Read(ref engine.Forwards) == 0) await Task.Delay(5);
        using var refused = await served.PostAsync("/v1/completions", Completion(2));
        var error = await ErrorOf(refused, HttpStatusCode.TooManyRequests);
        Assert.Equal("queue_full", (string?)error["code"]);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.False(refused.Headers.Contains("x-should-retry")); // OpenAI's SDKs retry a 429 by default, after Retry-After

        release.Set();
        using var first = await running;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        using var later = await served.PostAsync("/v1/completions", Completion(2));
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task ARequestThatCouldNeverFitTheKvCacheLimit_Is400_NamingMaxTokens()
    {
        // A model that claims a context of 4096 positions (1 KiB each), served with a budget of 100 positions.
        var inner = HookedEngine.TinyLlama();
        var engine = new HookedEngine(inner) { Shape = inner.Shape with { ContextLength = 4096 } };
        await using var served = await StartAsync(engine, new BatcherLimits { KvCacheBytes = 100 * 1024 });

        using var refused = await served.PostAsync("/v1/completions", Completion(1000));

        var error = await ErrorOf(refused, HttpStatusCode.BadRequest);
        Assert.Equal("kv_cache_limit_exceeded", (string?)error["code"]);
        Assert.Equal("max_tokens", (string?)error["param"]);
        Assert.Equal(0, engine.Forwards);
    }

    [Fact]
    public async Task UnderAKvCacheLimit_ConcurrentRequestsWaitForRoom_AndAllGetTheirContinuation()
    {
        // Room for two sequences of tiny-llama's 64 positions (1 KiB each) at a time, four requests at once.
        await using var served = await StartAsync(HookedEngine.TinyLlama(), new BatcherLimits { KvCacheBytes = 2 * 64 * 1024 });

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => served.PostAsync("/v1/completions", Completion(8))));
        var texts = await Task.WhenAll(responses.Select(r => r.Content.ReadAsStringAsync()));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var ids = texts.Select(t => JsonNode.Parse(t)!["choices"]![0]!["token_ids"]!.ToJsonString()).Distinct().ToArray();
        Assert.Single(ids);
    }

    [Fact]
    public async Task ARequestPastTheTimeout_Gets408NotToBeRetried_AndAStreamGetsATimeoutErrorEvent()
    {
        var engine = HookedEngine.TinyLlama();
        engine.OnForward = _ => Thread.Sleep(40);
        await using var served = await StartAsync(engine, options: new ServerOptions { RequestTimeout = TimeSpan.FromMilliseconds(400) });

        using var timedOut = await served.PostAsync("/v1/completions", Completion(60));
        Assert.Equal("request_timeout", (string?)(await ErrorOf(timedOut, HttpStatusCode.RequestTimeout))["code"]);
        // OpenAI's SDKs retry a 408 twice by default: three times the work, each ending the same way.
        Assert.Equal("false", timedOut.Headers.GetValues("x-should-retry").Single());

        var streaming = Completion(60);
        streaming["stream"] = true;
        using var stream = await served.PostAsync("/v1/completions", streaming);
        string events = await stream.Content.ReadAsStringAsync();
        Assert.Contains("\"code\":\"request_timeout\"", events);
        Assert.EndsWith("data: [DONE]\n\n", events);

        using var quick = await served.PostAsync("/v1/completions", Completion(1));
        Assert.Equal(HttpStatusCode.OK, quick.StatusCode);
    }

    [Fact]
    public async Task AKvCacheThatCannotBeAllocated_Gets503_AndTheNextRequestIsServed()
    {
        var engine = HookedEngine.TinyLlama();
        int caches = 0;
        engine.OnCreateCache = () =>
        {
            if (Interlocked.Increment(ref caches) == 1) throw new OutOfMemoryException("Array dimensions exceeded supported range.");
        };
        await using var served = await StartAsync(engine);

        using var failed = await served.PostAsync("/v1/completions", Completion(3));
        Assert.Equal("insufficient_memory", (string?)(await ErrorOf(failed, HttpStatusCode.ServiceUnavailable))["code"]);

        using var later = await served.PostAsync("/v1/completions", Completion(3));
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }

    [Fact]
    public async Task APromptOnWhichTheTokenizersRegexBacktracksPastItsLimit_Is400_AndTheServerGoesOn()
    {
        // tiny-llama's own tokenizer.json with a pre-tokenizer pattern that backtracks exponentially on "aaa...b".
        string folder = Directory.CreateTempSubdirectory("tessera-regex-").FullName;
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Directory(Fixtures.TinyLlama), "tokenizer.json")))!.AsObject();
            json["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = "(a|aa)+$" }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false }),
            };
            File.WriteAllText(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
            var tokenizer = Tessera.Text.Tokenizers.LoadTokenizerJson(Path.Combine(folder, "tokenizer.json"));
            await using var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
            await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");
            using var client = new HttpClient { BaseAddress = server.Address, Timeout = Timeout };
            var clock = System.Diagnostics.Stopwatch.StartNew();

            using var refused = await client.PostAsync("/v1/completions", new StringContent(
                new JsonObject { ["prompt"] = new string('a', 44) + "b" }.ToJsonString(), Encoding.UTF8, "application/json"));

            var error = await ErrorOf(refused, HttpStatusCode.BadRequest);
            Assert.Equal("tokenization_failed", (string?)error["code"]);
            Assert.Contains("(a|aa)+$", (string?)error["message"]);
            Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
            using var fine = await client.PostAsync("/v1/completions", new StringContent(
                new JsonObject { ["prompt"] = "hello", ["max_tokens"] = 2 }.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task StopAsync_WithALongRequestInFlight_EndsWithinAFewSeconds()
    {
        var engine = HookedEngine.TinyLlama();
        engine.OnForward = _ => Thread.Sleep(500); // 60 tokens: half a minute
        await using var served = await StartAsync(engine);
        var pending = served.PostAsync("/v1/completions", Completion(60));
        while (Volatile.Read(ref engine.Forwards) < 2) await Task.Delay(5);

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await served.Server.StopAsync().WaitAsync(Timeout);

        Assert.InRange(stopping.Elapsed, TimeSpan.Zero, CompletionServer.ShutdownTimeout + TimeSpan.FromSeconds(3));
        try
        {
            (await pending).Dispose();
        }
        catch (HttpRequestException)
        {
            // The connection was closed under the request: what a client sees of a server that stopped.
        }
    }
}
