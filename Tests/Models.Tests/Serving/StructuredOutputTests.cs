using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// response_format through the server: json_object answers are one JSON object and json_schema answers values of the
/// schema, by constrained decoding, even from random weights; a schema that cannot be served is a 400 naming it.
/// </summary>
public sealed class StructuredOutputTests(ChatServerFixture server) : IClassFixture<ChatServerFixture>
{
    private static readonly JsonNode Forecast = JsonNode.Parse("""
        {"type": "object",
         "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]}, "days": {"type": "integer"},
                        "sunny": {"type": "boolean"}, "note": {"type": ["string", "null"]}},
         "required": ["city", "days", "sunny", "note"], "additionalProperties": false}
        """)!;

    private static JsonObject Chat(JsonNode format, int seed) => new()
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Forecast?" }),
        ["max_tokens"] = 400,
        ["seed"] = seed,
        ["response_format"] = format,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task JsonObject_AnswersWithOneJsonObject(int seed)
    {
        var response = await server.PostOkAsync("v1/chat/completions", Chat(new JsonObject { ["type"] = "json_object" }, seed));

        Assert.Equal("stop", (string)response["choices"]![0]!["finish_reason"]!);
        using var answer = JsonDocument.Parse((string)response["choices"]![0]!["message"]!["content"]!);
        Assert.Equal(JsonValueKind.Object, answer.RootElement.ValueKind);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task JsonSchema_AnswersWithAValueOfTheSchema(int seed)
    {
        var format = new JsonObject { ["type"] = "json_schema", ["json_schema"] = new JsonObject { ["name"] = "forecast", ["schema"] = Forecast.DeepClone(), ["strict"] = true } };
        var response = await server.PostOkAsync("v1/chat/completions", Chat(format, seed));

        using var answer = JsonDocument.Parse((string)response["choices"]![0]!["message"]!["content"]!);
        var value = answer.RootElement;
        Assert.Equal(["city", "days", "sunny", "note"], value.EnumerateObject().Select(p => p.Name));
        Assert.Contains(value.GetProperty("city").GetString(), new[] { "Paris", "Oslo" });
        Assert.True(value.GetProperty("days").TryGetInt64(out _));
        Assert.True(value.GetProperty("sunny").ValueKind is JsonValueKind.True or JsonValueKind.False);
        Assert.True(value.GetProperty("note").ValueKind is JsonValueKind.String or JsonValueKind.Null);
    }

    [Fact]
    public async Task Completions_TakeAResponseFormatToo()
    {
        var request = new JsonObject { ["prompt"] = "Data:", ["max_tokens"] = 400, ["seed"] = 9, ["response_format"] = new JsonObject { ["type"] = "json_object" } };
        var response = await server.PostOkAsync("v1/completions", request);

        using var answer = JsonDocument.Parse((string)response["choices"]![0]!["text"]!);
        Assert.Equal(JsonValueKind.Object, answer.RootElement.ValueKind);
    }

    [Theory]
    [InlineData("""{"type": "xml"}""", "response_format.type")]
    [InlineData("""{"type": "json_schema"}""", "response_format.json_schema")]
    [InlineData("""{"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}""", "response_format.json_schema.name")]
    [InlineData("""{"type": "json_schema", "json_schema": {"name": "n", "schema": true}}""", "response_format.json_schema.schema")]
    [InlineData("""{"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object", "properties": {"a": {"type": "string", "minLength": 3}}}}}""", "response_format.json_schema.schema")]
    public async Task AFormatThatCannotBeServed_IsA400_NamingIt(string format, string param)
    {
        var error = await server.PostFailingAsync("v1/chat/completions", Chat(JsonNode.Parse(format)!, 1));

        Assert.Equal(param, (string?)error["param"]);
    }
}
