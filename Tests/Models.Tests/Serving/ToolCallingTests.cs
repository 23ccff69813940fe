using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// Tool calling through /v1/chat/completions as OpenAI's clients use it: forced calls (tool_choice "required" or a
/// named function) are valid calls of declared functions by construction, whole or streamed; the agent's history
/// (an assistant message with null content and tool_calls, then tool messages) is accepted; "none" answers in text;
/// and what cannot be a tool request is a 400 naming its field.
/// </summary>
public sealed class ToolCallingTests(ChatServerFixture server) : IClassFixture<ChatServerFixture>
{
    private static JsonObject Weather() => new()
    {
        ["type"] = "function",
        ["function"] = new JsonObject
        {
            ["name"] = "get_weather",
            ["description"] = "The weather in a city",
            ["parameters"] = JsonNode.Parse("""
                {"type": "object", "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}, "celsius": {"type": "boolean"}},
                 "required": ["city", "celsius"], "additionalProperties": false}
                """),
        },
    };

    private static JsonObject Clock() => new()
    {
        ["type"] = "function",
        ["function"] = new JsonObject { ["name"] = "get_time", ["parameters"] = JsonNode.Parse("""{"type": "object", "properties": {}}""") },
    };

    private static JsonObject Request(JsonNode? toolChoice, int seed = 1, params JsonObject[] tools) => new()
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" }),
        ["max_tokens"] = 300,
        ["seed"] = seed,
        ["tools"] = new JsonArray(tools.Select(t => (JsonNode)t).ToArray()),
        ["tool_choice"] = toolChoice,
    };

    private static void AssertIsWeatherCall(JsonNode call)
    {
        Assert.Equal("function", (string)call["type"]!);
        Assert.StartsWith("call_", (string)call["id"]!);
        Assert.Equal("get_weather", (string)call["function"]!["name"]!);
        using var arguments = JsonDocument.Parse((string)call["function"]!["arguments"]!);
        Assert.Contains(arguments.RootElement.GetProperty("city").GetString(), new[] { "Paris", "Oslo" });
        Assert.True(arguments.RootElement.GetProperty("celsius").ValueKind is JsonValueKind.True or JsonValueKind.False);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Required_AnswersWithCallsOfDeclaredFunctions_WhateverTheWeights(int seed)
    {
        var response = await server.PostOkAsync("v1/chat/completions", Request("required", seed, Weather(), Clock()));

        var choice = response["choices"]![0]!;
        Assert.Equal("tool_calls", (string)choice["finish_reason"]!);
        Assert.Null(choice["message"]!["content"]);
        var calls = choice["message"]!["tool_calls"]!.AsArray();
        Assert.NotEmpty(calls);
        foreach (var call in calls)
            if ((string)call!["function"]!["name"]! == "get_weather") AssertIsWeatherCall(call);
            else Assert.IsType<JsonObject>(JsonNode.Parse((string)call["function"]!["arguments"]!)); // get_time: any object
    }

    [Fact]
    public async Task Required_WithoutParallelCalls_MakesExactlyOne()
    {
        var request = Request("required", 4, Weather(), Clock());
        request["parallel_tool_calls"] = false;
        for (int seed = 1; seed <= 3; seed++)
        {
            request["seed"] = seed;
            var response = await server.PostOkAsync("v1/chat/completions", request);
            Assert.Single(response["choices"]![0]!["message"]!["tool_calls"]!.AsArray());
        }
    }

    [Fact]
    public async Task ANamedFunction_IsCalled_AndEndsWithStop_AsOpenAiDoes()
    {
        var choice = JsonNode.Parse("""{"type": "function", "function": {"name": "get_weather"}}""");
        var response = await server.PostOkAsync("v1/chat/completions", Request(choice, 5, Weather(), Clock()));

        Assert.Equal("stop", (string)response["choices"]![0]!["finish_reason"]!);
        AssertIsWeatherCall(Assert.Single(response["choices"]![0]!["message"]!["tool_calls"]!.AsArray())!);
    }

    [Fact]
    public async Task AStreamedCall_ComesWhole_InOneDelta_BeforeTheFinish()
    {
        var request = Request("required", 6, Weather());
        request["stream"] = true;
        var events = await server.PostStreamAsync("v1/chat/completions", request);

        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!["choices"]![0]!).ToList();
        var withCalls = chunks.Where(c => c["delta"]?["tool_calls"] is not null).ToList();
        var call = Assert.Single(Assert.Single(withCalls)["delta"]!["tool_calls"]!.AsArray())!;
        Assert.Equal(0, (int)call["index"]!);
        AssertIsWeatherCall(call);
        Assert.Equal("tool_calls", (string)chunks[^1]["finish_reason"]!);
        Assert.All(chunks, c => Assert.True(string.IsNullOrEmpty((string?)c["delta"]?["content"]), "a forced call shows no content"));
    }

    [Fact]
    public async Task TheAgentHistory_OfACallAndItsResult_IsAccepted()
    {
        var request = Request("auto", 7, Weather());
        request["max_tokens"] = 4;
        request["messages"]!.AsArray().Add(JsonNode.Parse("""
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\", \"celsius\": true}"}}]}
            """));
        request["messages"]!.AsArray().Add(JsonNode.Parse("""{"role": "tool", "tool_call_id": "call_1", "content": "18 degrees"}"""));

        var response = await server.PostOkAsync("v1/chat/completions", request);

        Assert.Contains((string)response["choices"]![0]!["finish_reason"]!, new[] { "stop", "length", "tool_calls" });
    }

    [Fact]
    public async Task ToolChoiceNone_AnswersInText_WithoutShowingTheTools()
    {
        var none = Request("none", 8, Weather());
        none["max_tokens"] = 2;
        var auto = Request("auto", 8, Weather());
        auto["max_tokens"] = 2;
        var plain = await server.PostOkAsync("v1/chat/completions", none);
        var withTools = await server.PostOkAsync("v1/chat/completions", auto);

        Assert.Null(plain["choices"]![0]!["message"]!["tool_calls"]);
        Assert.NotNull((string?)plain["choices"]![0]!["message"]!["content"]);
        Assert.True((int)plain["usage"]!["prompt_tokens"]! < (int)withTools["usage"]!["prompt_tokens"]! - 50, "the tools were described to the model anyway");
    }

    public static TheoryData<string, string> BadRequests => new()
    {
        { """{"messages": [{"role": "wizard", "content": "hi"}]}""", "messages.[0].role" },
        { """{"messages": [{"role": "tool", "content": "18 degrees"}]}""", "messages.[0].tool_call_id" },
        { """{"messages": [{"role": "assistant"}]}""", "messages.[0].content" },
        { """{"messages": [{"role": "user", "content": "hi", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}]}""", "messages.[0].tool_calls" },
        { """{"messages": [{"role": "assistant", "content": null, "tool_calls": [{"id": "c", "function": {"name": "f"}}]}]}""", "messages.[0].tool_calls.[0]" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"}""", "tool_choice" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tool_choice": "sometimes"}""", "tool_choice" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}}""", "tool_choice" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "retrieval"}]}""", "tools.[0].type" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "no spaces"}}]}""", "tools.[0].function.name" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]}""", "tools.[1].function.name" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": [1]}}]}""", "tools.[0].function.parameters" },
        { """{"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}}}], "tool_choice": "required"}""", "tools" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task WhatCannotBeAToolRequest_IsA400_NamingTheField(string body, string param)
    {
        var error = await server.PostFailingAsync("v1/chat/completions", JsonNode.Parse(body)!.AsObject());

        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal("invalid_request_error", (string)error["type"]!);
    }
}
