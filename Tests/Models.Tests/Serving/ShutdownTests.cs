using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>Stopping the server lets the requests in flight finish, then refuses connections.</summary>
public sealed class ShutdownTests
{
    /// <summary>tiny-llama slowed down, so a request is surely still running when the stop comes.</summary>
    private sealed class SlowEngine(ITransformerEngine inner) : ITransformerEngine
    {
        public int Forwards;

        public ModelShape Shape => inner.Shape;

        public long WeightBytes => inner.WeightBytes;

        public KvCache CreateCache() => inner.CreateCache();

        public float[] Forward(TokenBatch batch)
        {
            Interlocked.Increment(ref Forwards);
            Thread.Sleep(15);
            return inner.Forward(batch);
        }
    }

    [Fact]
    public async Task StopAsync_FinishesTheRequestInFlight_ThenRefusesNewOnes()
    {
        var engine = new SlowEngine(EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama)));
        var tokenizer = new ByteTokenizer();
        await using var batcher = new ContinuousBatcher(engine, tokenizer);
        var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama");
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        var body = new JsonObject { ["prompt"] = new JsonArray(1, 2, 3), ["max_tokens"] = 20, ["temperature"] = 0 };

        var pending = client.PostAsync("/v1/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        while (Volatile.Read(ref engine.Forwards) < 2) await Task.Delay(5);
        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        using var response = await pending;

        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var completion = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(20, (int)completion["usage"]!["completion_tokens"]!);
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/v1/models"));
        await server.DisposeAsync();
    }
}
