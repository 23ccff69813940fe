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

    /// <summary>Written as null when the request did not ask for log-probabilities, as OpenAI writes it.</summary>
    public ChoiceLogprobs? Logprobs { get; init; }

    public string? FinishReason { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? TokenIds { get; init; }
}

/// <summary>
/// A choice's log-probabilities: chat's shape (<see cref="Content"/>) or the legacy completions' (the four arrays, one
/// entry per token; the first prompt token of an echo has null ones). The other shape's fields are left out.
/// </summary>
internal sealed record ChoiceLogprobs
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public LogprobEntry[]? Content { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? Tokens { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double?[]? TokenLogprobs { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, double>?[]? TopLogprobs { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int[]? TextOffset { get; init; }
}

/// <summary>One token of chat's logprobs.content: its text, log-probability, UTF-8 bytes and the most likely alternatives.</summary>
internal sealed record LogprobEntry(string Token, double Logprob, int[] Bytes, TopLogprobEntry[] TopLogprobs);

/// <summary>One alternative of a chat token's top_logprobs.</summary>
internal sealed record TopLogprobEntry(string Token, double Logprob, int[] Bytes);

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
