using System.ComponentModel.DataAnnotations;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// One chat message as OpenAI's chat API takes it: a role and its content; an assistant's message may instead (or also)
/// carry the tool calls it made, and a <c>tool</c> message answers one of them by its id. What each role needs is
/// checked by <see cref="ChatMessages.Check"/>.
/// </summary>
internal sealed record ChatMessage
{
    [Required(AllowEmptyStrings = false, ErrorMessage = "a message needs a non-empty 'role' (system, developer, user, assistant or tool).")]
    public string? Role { get; init; }

    /// <summary>A string or text parts; null (or absent) only in an assistant message that carries tool_calls.</summary>
    public MessageContent? Content { get; init; }

    /// <summary>An optional participant name.</summary>
    public string? Name { get; init; }

    /// <summary>The calls an assistant made (history sent back by the client).</summary>
    public ToolCall[]? ToolCalls { get; init; }

    /// <summary>Which call a tool message answers.</summary>
    public string? ToolCallId { get; init; }
}
