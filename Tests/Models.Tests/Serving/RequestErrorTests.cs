using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>Bad requests get a 4xx with OpenAI's error body, and do not disturb the server.</summary>
public sealed class RequestErrorTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    public static TheoryData<string, string, HttpStatusCode, string?, string?> BadRequests() => new()
    {
        { "/v1/completions", "{\"prompt\": \"Hi\",", HttpStatusCode.BadRequest, null, "invalid_json" },
        { "/v1/completions", "[1, 2]", HttpStatusCode.BadRequest, null, "invalid_json" },
        { "/v1/completions", "{\"max_tokens\": 4}", HttpStatusCode.BadRequest, "prompt", null },
        { "/v1/completions", "{\"prompt\": {\"text\": \"Hi\"}}", HttpStatusCode.BadRequest, "prompt", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 0}", HttpStatusCode.BadRequest, "max_tokens", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": \"many\"}", HttpStatusCode.BadRequest, "max_tokens", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"temperature\": -1}", HttpStatusCode.BadRequest, "temperature", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"top_p\": 0}", HttpStatusCode.BadRequest, "top_p", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"stop\": 3}", HttpStatusCode.BadRequest, "stop", null },
        { "/v1/completions", "{\"prompt\": [1, 99999]}", HttpStatusCode.BadRequest, "prompt", null },
        { "/v1/completions", $"{{\"prompt\": \"{new string('x', 80)}\"}}", HttpStatusCode.BadRequest, "prompt", "context_length_exceeded" },
        { "/v1/completions", "{\"model\": \"gpt-4\", \"prompt\": \"Hi\"}", HttpStatusCode.NotFound, "model", "model_not_found" },
        { "/v1/chat/completions", "{\"model\": \"tiny-llama\"}", HttpStatusCode.BadRequest, "messages", null },
        { "/v1/chat/completions", "{\"messages\": []}", HttpStatusCode.BadRequest, "messages", null },
        { "/v1/chat/completions", "{\"messages\": [{\"content\": \"hi\"}]}", HttpStatusCode.BadRequest, "messages.[0].role", null },
        { "/v1/chat/completions", $"{{\"messages\": [{{\"role\": \"user\", \"content\": \"{new string('x', 80)}\"}}]}}", HttpStatusCode.BadRequest, "messages", "context_length_exceeded" },
        { "/v1/chat/completions", "{\"model\": \"nope\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", HttpStatusCode.NotFound, "model", "model_not_found" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task ABadRequest_GetsA4xxWithAnOpenAiErrorBody(string path, string body, HttpStatusCode status, string? param, string? code)
    {
        using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("invalid_request_error", (string)error["type"]!);
        Assert.False(string.IsNullOrWhiteSpace((string)error["message"]!));
        Assert.Equal(param, (string?)error["param"]);
        Assert.Equal(code, (string?)error["code"]);
    }

    [Fact]
    public async Task AnUnknownRoute_Gets404WithAnErrorBody()
    {
        using var response = await server.Client.GetAsync("/v1/engines");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]);
    }

    [Fact]
    public async Task AfterBadRequests_TheServerStillAnswers()
    {
        await server.Client.PostAsync("/v1/completions", new StringContent("{oops", Encoding.UTF8, "application/json"));

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 2, ["temperature"] = 0 });

        Assert.Equal(2, (int)response["usage"]!["completion_tokens"]! );
    }
}
