using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// Every OpenAI parameter is implemented or refused: values outside OpenAI's documented ranges, and fields OpenAI
/// defines that Tessera does not implement, get a 400 naming the parameter; the values that mean "off" are accepted.
/// </summary>
public sealed class ParameterValidationTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Completions = "/v1/completions", Chat = "/v1/chat/completions";

    private const string Hi = "\"prompt\": \"Hi\", \"max_tokens\": 2";

    private const string Messages = "\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 2";

    public static TheoryData<string, string, string, string?> OutOfRange() => new()
    {
        { Completions, "\"temperature\": 2.5", "temperature", null },
        { Completions, "\"top_p\": 1.5", "top_p", null },
        { Completions, "\"presence_penalty\": 2.5", "presence_penalty", null },
        { Completions, "\"frequency_penalty\": -3", "frequency_penalty", null },
        { Completions, "\"repetition_penalty\": 0", "repetition_penalty", null },
        { Completions, "\"repetition_penalty\": 1e39", "repetition_penalty", null },   // past float's range
        { Completions, "\"min_p\": 1.5", "min_p", null },
        { Completions, "\"logprobs\": 6", "logprobs", null },
        { Completions, "\"logprobs\": true", "logprobs", null },
        { Completions, "\"n\": 0", "n", null },
        { Completions, "\"n\": 17", "n", null },
        { Completions, "\"n\": 3, \"best_of\": 2", "best_of", null },
        { Completions, "\"best_of\": 2, \"stream\": true", "best_of", null },
        { Completions, "\"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]", "stop", null },
        { Completions, "\"logit_bias\": {\"abc\": 1}", "logit_bias", null },
        { Completions, "\"logit_bias\": {\"99999\": 1}", "logit_bias", null },
        { Completions, "\"logit_bias\": {\"-1\": 1}", "logit_bias", null },
        { Completions, "\"logit_bias\": {\"65\": 101}", "logit_bias", null },
        { Chat, "\"top_logprobs\": 21, \"logprobs\": true", "top_logprobs", null },
        { Chat, "\"top_logprobs\": 2", "top_logprobs", null },
        { Chat, "\"logprobs\": 3", "logprobs", null },
    };

    public static TheoryData<string, string, string> Unsupported() => new()
    {
        { Chat, "\"audio\": {\"voice\": \"alloy\", \"format\": \"wav\"}", "audio" },
        { Chat, "\"modalities\": [\"text\", \"audio\"]", "modalities" },
        { Chat, "\"prediction\": {\"type\": \"content\", \"content\": \"x\"}", "prediction" },
        { Chat, "\"web_search_options\": {}", "web_search_options" },
        { Chat, "\"functions\": [{\"name\": \"f\"}]", "functions" },
        { Chat, "\"function_call\": \"auto\"", "function_call" },
        { Chat, "\"service_tier\": \"flex\"", "service_tier" },
        { Chat, "\"store\": true", "store" },
        { Chat, "\"metadata\": {\"k\": \"v\"}", "metadata" },
        { Chat, "\"reasoning_effort\": \"low\"", "reasoning_effort" },
        { Chat, "\"verbosity\": \"low\"", "verbosity" },
        { Completions, "\"suffix\": \" the end\"", "suffix" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task AValueOutsideOpenAisRange_Is400NamingTheParameter(string path, string field, string param, string? code)
    {
        var error = await RefusedAsync(path, field);

        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
    }

    [Theory]
    [MemberData(nameof(Unsupported))]
    public async Task AFieldOpenAiDefinesButTesseraDoesNotImplement_Is400NamingIt(string path, string field, string param)
    {
        var error = await RefusedAsync(path, field);

        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal("unsupported_parameter", (string?)error["code"]);
        Assert.Contains(param, (string)error["message"]!);
    }

    [Theory]
    [InlineData(Chat, "\"service_tier\": \"auto\"")]
    [InlineData(Chat, "\"service_tier\": \"default\"")]
    [InlineData(Chat, "\"store\": false")]
    [InlineData(Chat, "\"modalities\": [\"text\"]")]
    [InlineData(Chat, "\"audio\": null")]
    [InlineData(Chat, "\"user\": \"u-1\", \"safety_identifier\": \"s\", \"prompt_cache_key\": \"k\"")]
    [InlineData(Completions, "\"suffix\": \"\"")]
    [InlineData(Completions, "\"logit_bias\": {\"65\": -100, \"66\": 100}")]
    [InlineData(Completions, "\"vendor_extension\": 1")]
    public async Task TheValuesThatMeanOff_AndIdentifiers_AreAccepted(string path, string field)
    {
        string body = $"{{{(path == Chat ? Messages : Hi)}, \"temperature\": 0, {field}}}";
        using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task MaxTokensPastTheContext_Is400ContextLengthExceeded_InsteadOfACutAnswer()
    {
        int[] prompt = server.Tokenizer.Encode("Hi");
        int fits = server.ContextLength - prompt.Length;

        var error = await RefusedAsync(Completions, $"\"max_tokens\": {fits + 1}", maxTokens: false);
        using var answered = await server.PostAsync(Completions, new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = fits, ["temperature"] = 0 });

        Assert.Equal("context_length_exceeded", (string?)error["code"]);
        Assert.Equal("max_tokens", (string?)error["param"]);
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task AChatWithoutMaxTokens_StillRunsToTheContext()
    {
        var response = await server.PostOkAsync(Chat, new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hi" }), ["temperature"] = 0,
        });

        Assert.NotNull(response["choices"]![0]!["finish_reason"]);
    }

    private async Task<JsonNode> RefusedAsync(string path, string field, bool maxTokens = true)
    {
        string common = path == Chat ? Messages : Hi;
        if (!maxTokens) common = common.Replace(", \"max_tokens\": 2", "", StringComparison.Ordinal);
        using var response = await server.Client.PostAsync(path, new StringContent($"{{{common}, {field}}}", Encoding.UTF8, "application/json"));

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("invalid_request_error", (string)error["type"]!);
        return error;
    }
}
