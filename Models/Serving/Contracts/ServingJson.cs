using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// The server's JSON contracts, serialized by source generation (no reflection): snake_case names as OpenAI writes
/// them; an object that repeats a key is refused (which value wins would be a guess; OpenAI refuses it too).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    AllowDuplicateProperties = false,
    MaxDepth = 32)]
[JsonSerializable(typeof(CompletionRequest))]
[JsonSerializable(typeof(ChatCompletionRequest))]
[JsonSerializable(typeof(TextPart))]
[JsonSerializable(typeof(CompletionResponse))]
[JsonSerializable(typeof(ModelCard))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(MetricsResponse))]
[JsonSerializable(typeof(int[]))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class ServingJson : JsonSerializerContext
{
    /// <summary>
    /// For responses: the same contracts, with text written as it is (non-ASCII characters not escaped), as OpenAI's
    /// responses are; JSON's own escapes (quotes, control characters) still apply.
    /// </summary>
    public static ServingJson Wire => _wire ??= new(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    // Made on first use: a static initializer here could run before the generated part's Default exists.
    private static ServingJson? _wire;
}
