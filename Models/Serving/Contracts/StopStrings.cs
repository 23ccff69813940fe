using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

/// <summary>OpenAI's <c>stop</c>: one string or an array of strings; none may be empty.</summary>
[JsonConverter(typeof(StopStringsConverter))]
internal sealed record StopStrings(string[] Values);

internal sealed class StopStringsConverter : JsonConverter<StopStrings>
{
    private const string Expected = "a string or an array of strings";

    public override StopStrings Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return new StopStrings([reader.GetString()!]);
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException(Expected);
        var values = new List<string>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            values.Add(reader.TokenType == JsonTokenType.String ? reader.GetString()! : throw new JsonException(Expected));
        return new StopStrings(values.ToArray());
    }

    public override void Write(Utf8JsonWriter writer, StopStrings value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, value.Values, ServingJson.Default.StringArray);
}
