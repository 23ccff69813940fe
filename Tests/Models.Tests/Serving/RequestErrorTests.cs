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
        { "/v1/completions", "{\"prompt\": \"Hi\", \"prompt\": \"Ho\"}", HttpStatusCode.BadRequest, null, "invalid_json" },   // once: 500, empty body
        { "/v1/completions", "{\"prompt\": \"\\ud800\"}", HttpStatusCode.BadRequest, null, "invalid_json" },                   // a lone surrogate
        { "/v1/completions", "{\"prompt\": \"Hi\", \"stop\": [\"\\udc00x\"]}", HttpStatusCode.BadRequest, null, "invalid_json" },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}]}", HttpStatusCode.BadRequest, null, "invalid_json" },
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
        // Typed contracts: the field at fault is named from the deserializer's path or the failing annotation.
        { "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 1e400}", HttpStatusCode.BadRequest, "max_tokens", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2.5}", HttpStatusCode.BadRequest, "max_tokens", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"temperature\": 1e400}", HttpStatusCode.BadRequest, "temperature", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"n\": 17}", HttpStatusCode.BadRequest, "n", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"top_p\": 2147483648}", HttpStatusCode.BadRequest, "top_p", null },   // found by the fuzz: 500
        { "/v1/completions", "{\"prompt\": \"Hi\", \"stop\": [\"\"]}", HttpStatusCode.BadRequest, "stop", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"stream\": \"yes\"}", HttpStatusCode.BadRequest, "stream", null },
        { "/v1/completions", "{\"prompt\": []}", HttpStatusCode.BadRequest, "prompt", null },
        { "/v1/completions", "{\"prompt\": [1, 2.5]}", HttpStatusCode.BadRequest, "prompt", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"stream_options\": 3}", HttpStatusCode.BadRequest, "stream_options", null },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"vendor_extension\": " + new string('[', 100) + new string(']', 100) + "}", HttpStatusCode.BadRequest, null, "invalid_json" },
        { "/v1/completions", "{\"prompt\": \"Hi\", \"logit_bias\": [1]}", HttpStatusCode.BadRequest, "logit_bias", null },
        { "/v1/chat/completions", "{\"messages\": [null]}", HttpStatusCode.BadRequest, "messages.[0]", null },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 3}]}", HttpStatusCode.BadRequest, "messages.[0].content", null },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", HttpStatusCode.BadRequest, "messages.[0].content", null },
        { "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\"}]}", HttpStatusCode.BadRequest, "messages.[0].content", null },
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

    public static TheoryData<string, string> JsonFaults() => new()
    {
        // body, what the message says
        { "{\"prompt\": \"Hi\",", "unexpected end of the JSON body" },
        { "{\"prompt\": \"Hi", "unexpected end of the JSON body" },
        { "{\"prompt\": [1, 2", "unexpected end of the JSON body" },
        { "{\"prompt\": \"Hi\"", "unexpected end of the JSON body" },
        { "[]", "expected a JSON object" },
        { "[1, 2]", "not an array" },
        { "\"x\"", "not a string" },
        { "123", "not a number" },
        { "true", "expected a JSON object" },
        { "null", "must be a JSON object, not null" },
        { "", "empty" },
        { "{\"prompt\": \"Hi\", \"extra\": " + new string('[', 100) + new string(']', 100) + "}", "nested too deeply" },
        { "{\"prompt\": \"Hi\", \"extra\": " + new string('[', 5000), "nested too deeply" },   // cut short too: the depth is what is wrong first
        { "{\"prompt\": \"Hi\", \"max_tokens\": \"many\"}", "'max_tokens' must be an integer" },
        { "{\"prompt\": \"Hi\", \"stream\": 1}", "'stream' must be true or false" },
        { "{\"messages\": [{\"role\": 3, \"content\": \"hi\"}]}", "'messages.[0].role' must be a string" },
    };

    [Theory]
    [MemberData(nameof(JsonFaults))]
    public async Task AJsonFault_IsDescribedInJsonsWords_NeverWithACSharpTypeName(string body, string says)
    {
        string path = body.Contains("messages", StringComparison.Ordinal) ? "/v1/chat/completions" : "/v1/completions";

        using var response = await server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        string message = (string)JsonNode.Parse(text)!["error"]!["message"]!;
        Assert.Contains(says, message);
        Assert.DoesNotContain("Tessera.", message);
        Assert.DoesNotContain("System.", message);
        if (says != "nested too deeply") Assert.DoesNotContain("nested", message);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")] // what curl -d sends without -H
    [InlineData("multipart/form-data; boundary=x")]
    [InlineData("application/json; charset=utf-16")]
    public async Task ABodyThatIsNotDeclaredJson_Gets415WithAnErrorBody(string contentType)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"prompt\": \"Hi\", \"max_tokens\": 1}"));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await server.Client.PostAsync("/v1/completions", content);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{(int)response.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("unsupported_media_type", (string?)error["code"]);
        Assert.Contains("application/json", (string)error["message"]!);
    }

    [Theory]
    [InlineData(null)] // as vLLM (FastAPI) reads a body without a Content-Type: as JSON
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON; charset=\"UTF-8\"")]
    [InlineData("application/vnd.openai+json")]
    public async Task ABodyDeclaredJson_OrWithoutAContentType_IsRead(string? contentType)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"prompt\": \"Hi\", \"max_tokens\": 1}"));
        if (contentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await server.Client.PostAsync("/v1/completions", content);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task AnUnknownRoute_Gets404WithAnErrorBody()
    {
        using var response = await server.Client.GetAsync("/v1/engines");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.NotNull(JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]);
    }

    [Fact]
    public async Task ABodyWithBytesThatAreNotUtf8_Gets400WithAnErrorBody()
    {
        var bytes = Encoding.UTF8.GetBytes("{\"prompt\": \"Hi \"}").ToList();
        bytes.InsertRange(bytes.Count - 2, new byte[] { 0xFF, 0xFE });
        using var content = new ByteArrayContent(bytes.ToArray());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        using var response = await server.Client.PostAsync("/v1/completions", content);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("invalid_json", (string)JsonNode.Parse(text)!["error"]!["code"]!);
    }

    [Fact]
    public async Task AChunkSizePastAnyLength_Gets400WithAnErrorBody()
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.Client.BaseAddress!.Host, server.Client.BaseAddress.Port);
        using var stream = tcp.GetStream();
        string request = "POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                         "FFFFFFFFFFFFFFFF\r\n{\"prompt\": \"Hi\"}\r\n0\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.UTF8);

        string status = (await reader.ReadLineAsync())!;
        string rest = await ReadUntilClosedOrBodyAsync(reader);

        Assert.True(status.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), status + "\n" + rest); // once: 500 with an empty body
        Assert.Contains("\"error\"", rest);
    }

    private static async Task<string> ReadUntilClosedOrBodyAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var timeout = Task.Delay(TimeSpan.FromSeconds(10));
        var buffer = new char[4096];
        while (true)
        {
            var read = reader.ReadAsync(buffer, 0, buffer.Length);
            if (await Task.WhenAny(read, timeout) == timeout) break;
            int n = await read;
            if (n == 0) break;
            text.Append(buffer, 0, n);
            if (text.ToString().Contains("}}", StringComparison.Ordinal)) break;
        }
        return text.ToString();
    }

    [Fact]
    public async Task AfterBadRequests_TheServerStillAnswers()
    {
        await server.Client.PostAsync("/v1/completions", new StringContent("{oops", Encoding.UTF8, "application/json"));

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = "Hi", ["max_tokens"] = 2, ["temperature"] = 0 });

        Assert.Equal(2, (int)response["usage"]!["completion_tokens"]! );
    }
}
