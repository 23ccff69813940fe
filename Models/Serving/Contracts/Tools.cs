using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

// Tool calling as OpenAI's chat API shapes it: the tools a request declares, the choice it makes among them, and the
// calls an assistant made (in a response, and in the history a client sends back).

/// <summary>One declared tool: <c>{"type": "function", "function": {...}}</c>.</summary>
internal sealed record ToolDefinition(string? Type, FunctionDefinition? Function);

/// <summary>A function the model may call: its name, what it does, and a JSON Schema of its arguments.</summary>
internal sealed record FunctionDefinition(string? Name, string? Description, JsonElement? Parameters, bool? Strict);

/// <summary>One call: an id the tool's answer refers to, and the function with its arguments as a JSON text.</summary>
internal sealed record ToolCall(string? Id, string? Type, FunctionCall? Function);

/// <summary>The called function's name and its arguments, a JSON object written as a string (as OpenAI sends it).</summary>
internal sealed record FunctionCall(string? Name, string? Arguments);

/// <summary>
/// tool_choice: <c>"none"</c> (answer in text), <c>"auto"</c> (the model decides), <c>"required"</c> (at least one
/// call), or <c>{"type": "function", "function": {"name": ...}}</c> (that function, once).
/// </summary>
[JsonConverter(typeof(ToolChoiceConverter))]
internal sealed record ToolChoice(ToolChoiceMode Mode, string? Function = null);

internal enum ToolChoiceMode
{
    None,
    Auto,
    Required,
    Function,
}

internal sealed class ToolChoiceConverter : JsonConverter<ToolChoice>
{
    private const string Expected = "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}";

    public override ToolChoice Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
            return reader.GetString() switch
            {
                "none" => new ToolChoice(ToolChoiceMode.None),
                "auto" => new ToolChoice(ToolChoiceMode.Auto),
                "required" => new ToolChoice(ToolChoiceMode.Required),
                _ => throw new JsonException(Expected),
            };
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException(Expected);
        using var document = JsonDocument.ParseValue(ref reader);
        var root = document.RootElement;
        if (root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "function"
            && root.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            && function.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
            return new ToolChoice(ToolChoiceMode.Function, name.GetString());
        throw new JsonException(Expected);
    }

    public override void Write(Utf8JsonWriter writer, ToolChoice value, JsonSerializerOptions options)
    {
        if (value.Mode != ToolChoiceMode.Function)
        {
            writer.WriteStringValue(value.Mode.ToString().ToLowerInvariant());
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("type", "function");
        writer.WritePropertyName("function");
        writer.WriteStartObject();
        writer.WriteString("name", value.Function);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
