using System.ComponentModel.DataAnnotations;

namespace Tessera.Models.Serving.Contracts;

/// <summary>POST /v1/chat/completions.</summary>
internal sealed record ChatCompletionRequest : GenerationRequest
{
    [Required(ErrorMessage = "'messages' is required: an array of {{role, content}}.")]
    [MinLength(1, ErrorMessage = "'messages' must contain at least one message.")]
    public ChatMessage[]? Messages { get; init; }

    /// <summary>Reports the log-probability of each output token (and of the <see cref="TopLogprobs"/> most likely).</summary>
    public bool? Logprobs { get; init; }

    [Range(0, Tessera.Generation.SamplingOptions.MaxTopLogprobs, ErrorMessage = "'top_logprobs' must be an integer in [0, 20].")]
    public int? TopLogprobs { get; init; }

    /// <summary>The functions the model may call.</summary>
    public ToolDefinition[]? Tools { get; init; }

    /// <summary>"none", "auto" (the default with tools), "required", or one named function.</summary>
    public ToolChoice? ToolChoice { get; init; }

    /// <summary>Whether one answer may hold several calls (the default: true).</summary>
    public bool? ParallelToolCalls { get; init; }
}
