using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

/// <summary>A chat message's content: a string, or an array of text parts (<c>{"type": "text", "text": ...}</c>) joined.</summary>
[JsonConverter(typeof(MessageContentConverter))]
internal sealed record MessageContent(string Text);

internal sealed class MessageContentConverter : JsonConverter<MessageContent>
{
    private const string Expected = "a string or an array of text parts ({\"type\": \"text\", \"text\": ...}); only text parts are supported";

    public override MessageContent Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new MessageContent(reader.GetString()!);
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException(Expected);
        var text = new StringBuilder();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var part = JsonSerializer.Deserialize(ref reader, ServingJson.Default.TextPart);
            if (part is not { Type: "text", Text: { } partText }) throw new JsonException(Expected);
            text.Append(partText);
        }
        return new MessageContent(text.ToString());
    }

    public override void Write(Utf8JsonWriter writer, MessageContent value, JsonSerializerOptions options) => writer.WriteStringValue(value.Text);
}

/// <summary>One part of a multi-part message.</summary>
internal sealed record TextPart(string? Type, string? Text);
