using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// A completion prompt as OpenAI accepts it for one choice: a string, an array of token ids, or an array of one string.
/// </summary>
[JsonConverter(typeof(PromptInputConverter))]
internal sealed record PromptInput(string? Text, int[]? TokenIds);

internal sealed class PromptInputConverter : JsonConverter<PromptInput>
{
    private const string Expected = "a string, a non-empty array of token ids, or an array of one string (one prompt per request)";

    public override PromptInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new PromptInput(reader.GetString(), null);
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException(Expected);
        reader.Read();
        if (reader.TokenType == JsonTokenType.String)
        {
            string text = reader.GetString()!;
            reader.Read();
            return reader.TokenType == JsonTokenType.EndArray ? new PromptInput(text, null) : throw new JsonException(Expected);
        }
        var ids = new List<int>();
        for (; reader.TokenType != JsonTokenType.EndArray; reader.Read())
            ids.Add(reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out int id) ? id : throw new JsonException("token ids must be integers."));
        return ids.Count > 0 ? new PromptInput(null, ids.ToArray()) : throw new JsonException(Expected);
    }

    public override void Write(Utf8JsonWriter writer, PromptInput value, JsonSerializerOptions options)
    {
        if (value.Text is not null) writer.WriteStringValue(value.Text);
        else JsonSerializer.Serialize(writer, value.TokenIds, ServingJson.Default.Int32Array);
    }
}
