using System.Text.Json.Serialization;

namespace Tessera.Models.Serving.Contracts;

// The response bodies of OpenAI's API, one choice each. Extension: every choice (and token chunk) also carries
// token_ids, the generated ids, so that clients can check outputs exactly. Nulls OpenAI writes (logprobs,
// finish_reason of a chunk) are written; what it omits is omitted (WhenWritingNull).

/// <summary>A whole answer of /v1/completions (object "text_completion") or /v1/chat/completions ("chat.completion").</summary>
internal sealed record CompletionResponse(string Id, string Object, long Created, string Model, Choice[] Choices,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage);

/// <summary>
/// One choice: <see cref="Text"/> for completions, <see cref="Message"/> (a whole answer) or <see cref="Delta"/> (a
/// chunk) for chat; the others are left out.
/// </summary>
internal sealed record Choice
{
    public int Index { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Text { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public AssistantMessage? Message { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Delta? Delta { get; init; }

    /// <summary>Completions carry "logprobs": null, as OpenAI's do; chat choices leave it out.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public LogprobsPlaceholder Logprobs { get; init; }

    public string? FinishReason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? TokenIds { get; init; }
}

/// <summary>Writes <c>"logprobs": null</c> when set (logprobs are not computed).</summary>
[JsonConverter(typeof(LogprobsPlaceholderConverter))]
internal readonly record struct LogprobsPlaceholder(bool Present);

internal sealed class LogprobsPlaceholderConverter : JsonConverter<LogprobsPlaceholder>
{
    public override LogprobsPlaceholder Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        reader.Skip();
        return new LogprobsPlaceholder(true);
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, LogprobsPlaceholder value, System.Text.Json.JsonSerializerOptions options) => writer.WriteNullValue();
}

/// <summary>A whole chat answer: its text (null when it only calls tools, as OpenAI writes it) and the calls it made.</summary>
internal sealed record AssistantMessage(string Role, string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ToolCall[]? ToolCalls = null);

/// <summary>
/// A chat chunk's change: the role first, then content pieces, then the calls (each whole in one piece); empty in the
/// chunk that ends the choice.
/// </summary>
internal sealed record Delta(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ToolCallDelta[]? ToolCalls = null);

/// <summary>One call in a stream, as OpenAI streams them: its index among the answer's calls, id, type and function.</summary>
internal sealed record ToolCallDelta(int Index, string Id, string Type, FunctionCall Function);

internal sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

/// <summary>GET /v1/models/{id}.</summary>
internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy);

/// <summary>GET /v1/models.</summary>
internal sealed record ModelList(string Object, ModelCard[] Data);

/// <summary>OpenAI's error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal sealed record ErrorResponse(ErrorDetail Error);

internal sealed record ErrorDetail(string Message, string Type, string? Param, string? Code);
