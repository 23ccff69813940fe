using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// Concurrent completions and chat requests, streaming and not, all batched by the one batcher, each answered with
/// exactly the ids and text that offline greedy decoding gives for its prompt.
/// </summary>
public sealed class CompletionsTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static readonly string[] Prompts = ["Once upon a time", "Hello", "The quick brown fox", "a", "To be, or not to be", "1 2 3 4 5"];

    [Fact]
    public async Task ConcurrentRequestsOfEveryKind_EachMatchTheOfflineGreedyOutput()
    {
        var checks = new List<Task>();
        for (int i = 0; i < Prompts.Length; i++)
        {
            string prompt = Prompts[i];
            int maxTokens = 4 + 3 * i;
            checks.Add(CompletionAsync(prompt, maxTokens, stream: false));
            checks.Add(CompletionAsync(prompt, maxTokens, stream: true));
            checks.Add(ChatAsync(prompt, maxTokens, stream: i % 2 == 0));
        }

        await Task.WhenAll(checks).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(server.Batcher.Metrics.Steps < server.Batcher.Metrics.CompletionTokens, "requests were not batched together");
    }

    [Fact]
    public async Task APromptOfTokenIds_IsAnsweredAsTheSameIdsGivenAsText()
    {
        int[] ids = server.Tokenizer.Encode("Once upon a time");
        var expected = server.Offline(ids, 10);

        var response = await server.PostOkAsync("/v1/completions", new JsonObject
        {
            ["model"] = ServerFixture.ModelName, ["prompt"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()), ["max_tokens"] = 10, ["temperature"] = 0,
        });

        Assert.Equal(expected.Ids, Ids(response["choices"]![0]!["token_ids"]));
        Assert.Equal(ids.Length, (int)response["usage"]!["prompt_tokens"]!);
    }

    [Fact]
    public async Task AStopString_EndsTheTextBeforeIt()
    {
        var expected = server.Offline(server.Tokenizer.Encode("Hello"), 20);
        string stop = expected.Text.Substring(4, 2);

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hello", ["max_tokens"] = 20, ["temperature"] = 0, ["stop"] = stop });

        var choice = response["choices"]![0]!;
        Assert.Equal(expected.Text[..expected.Text.IndexOf(stop, StringComparison.Ordinal)], (string)choice["text"]!);
        Assert.Equal("stop", (string)choice["finish_reason"]!);
    }

    [Fact]
    public async Task ASeededSampledRequest_IsReproducible()
    {
        var body = new JsonObject { ["prompt"] = "Once upon a time", ["max_tokens"] = 12, ["temperature"] = 0.9, ["top_p"] = 0.9, ["top_k"] = 40, ["seed"] = 1234 };

        var first = await server.PostOkAsync("/v1/completions", body.DeepClone().AsObject());
        var second = await server.PostOkAsync("/v1/completions", body.DeepClone().AsObject());

        Assert.Equal(Ids(first["choices"]![0]!["token_ids"]), Ids(second["choices"]![0]!["token_ids"]));
    }

    [Fact]
    public async Task TheStreamingUsageChunk_ComesLast_BeforeDone()
    {
        var events = await server.PostStreamAsync("/v1/completions", new JsonObject
        {
            ["prompt"] = "Hello", ["max_tokens"] = 3, ["temperature"] = 0, ["stream"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true },
        });

        var usage = JsonNode.Parse(events[^2])!;
        Assert.Empty(usage["choices"]!.AsArray());
        Assert.Equal(server.Tokenizer.Encode("Hello").Length, (int)usage["usage"]!["prompt_tokens"]!);
        Assert.Equal("[DONE]", events[^1]);
    }

    [Fact]
    public async Task Models_ListsTheServedModel()
    {
        var list = await server.GetJsonAsync("/v1/models");

        Assert.Equal("list", (string)list!["object"]!);
        var model = Assert.Single(list["data"]!.AsArray())!;
        Assert.Equal(ServerFixture.ModelName, (string)model["id"]!);
        Assert.Equal("model", (string)model["object"]!);
        Assert.Equal(ServerFixture.ModelName, (string)(await server.GetJsonAsync($"/v1/models/{ServerFixture.ModelName}"))!["id"]!);
    }

    [Fact]
    public async Task MetricsJson_ReportsTheRequestsAndTheDeviceMemory()
    {
        await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 2 });

        var metrics = await server.GetJsonAsync("/metrics.json");

        Assert.True((long)metrics!["requests"]! >= 1);
        Assert.True((long)metrics["memory"]![0]!["weights"]! > 0);
    }

    private async Task CompletionAsync(string prompt, int maxTokens, bool stream)
    {
        var expected = server.Offline(server.Tokenizer.Encode(prompt), maxTokens);
        var body = new JsonObject { ["model"] = ServerFixture.ModelName, ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream };
        if (!stream)
        {
            var response = await server.PostOkAsync("/v1/completions", body);
            Assert.Equal("text_completion", (string)response["object"]!);
            var choice = response["choices"]![0]!;
            Assert.Equal(expected.Ids, Ids(choice["token_ids"]));
            Assert.Equal(expected.Text, (string)choice["text"]!);
            Assert.Equal(expected.FinishReason, (string)choice["finish_reason"]!);
            Assert.Equal(expected.Ids.Length, (int)response["usage"]!["completion_tokens"]!);
            return;
        }
        var events = await server.PostStreamAsync("/v1/completions", body);
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", (string)c["object"]!));
        var choices = chunks.Select(c => c["choices"]![0]!).ToList();
        Assert.Equal(expected.Ids, choices.Where(c => c["token_ids"] is not null).SelectMany(c => Ids(c["token_ids"])));
        Assert.Equal(expected.Text, string.Concat(choices.Select(c => (string)c["text"]!)));
        Assert.Equal(expected.FinishReason, (string)choices[^1]["finish_reason"]!);
    }

    private async Task ChatAsync(string content, int maxTokens, bool stream)
    {
        var messages = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = "Hi." }, new JsonObject { ["role"] = "user", ["content"] = content });
        // The documented plain template: "role: content\n" per message, then "assistant:".
        int[] prompt = server.Tokenizer.Encode($"system: Hi.\nuser: {content}\nassistant:");
        maxTokens = Math.Min(maxTokens, server.ContextLength - prompt.Length); // past the context max_tokens is refused
        var expected = server.Offline(prompt, maxTokens);
        var body = new JsonObject { ["model"] = ServerFixture.ModelName, ["messages"] = messages, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = stream };
        if (!stream)
        {
            var response = await server.PostOkAsync("/v1/chat/completions", body);
            Assert.Equal("chat.completion", (string)response["object"]!);
            var choice = response["choices"]![0]!;
            Assert.Equal("assistant", (string)choice["message"]!["role"]!);
            Assert.Equal(expected.Text, (string)choice["message"]!["content"]!);
            Assert.Equal(expected.Ids, Ids(choice["token_ids"]));
            Assert.Equal(expected.FinishReason, (string)choice["finish_reason"]!);
            return;
        }
        var events = await server.PostStreamAsync("/v1/chat/completions", body);
        Assert.Equal("[DONE]", events[^1]);
        var choices = events[..^1].Select(e => JsonNode.Parse(e)!).Select(c =>
        {
            Assert.Equal("chat.completion.chunk", (string)c["object"]!);
            return c["choices"]![0]!;
        }).ToList();
        Assert.Equal("assistant", (string)choices[0]["delta"]!["role"]!);
        Assert.Equal(expected.Text, string.Concat(choices.Select(c => (string?)c["delta"]!["content"] ?? "")));
        Assert.Equal(expected.Ids, choices.Where(c => c["token_ids"] is not null).SelectMany(c => Ids(c["token_ids"])));
        Assert.Equal(expected.FinishReason, (string)choices[^1]["finish_reason"]!);
    }

    private static int[] Ids(JsonNode? array) => array!.AsArray().Select(i => (int)i!).ToArray();
}
