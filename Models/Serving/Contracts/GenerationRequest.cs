using System.ComponentModel.DataAnnotations;
using Tessera.Generation;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// The fields /v1/completions and /v1/chat/completions share, as OpenAI names them (snake_case on the wire). Ranges are
/// DataAnnotations checked by <see cref="RequestReader"/>; fields OpenAI has and Tessera does not use are ignored, as
/// unknown fields are.
/// </summary>
internal abstract record GenerationRequest
{
    public string? Model { get; init; }

    [Range(1, int.MaxValue, ErrorMessage = "'max_tokens' must be at least 1.")]
    public int? MaxTokens { get; init; }

    /// <summary>The chat API's newer name for max_tokens; max_tokens wins when both are given.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "'max_completion_tokens' must be at least 1.")]
    public int? MaxCompletionTokens { get; init; }

    [Range(0, double.MaxValue, ErrorMessage = "'temperature' must be a finite number >= 0.")]
    public double? Temperature { get; init; }

    [Range(0.0, 1.0, MinimumIsExclusive = true, ErrorMessage = "'top_p' must be in (0, 1].")]
    public double? TopP { get; init; }

    /// <summary>vLLM's extension: 0 or -1 keep every token.</summary>
    [Range(-1, int.MaxValue, ErrorMessage = "'top_k' must be >= 0, or -1 or 0 for all tokens.")]
    public int? TopK { get; init; }

    [Range(1, 1, ErrorMessage = "'n': only n = 1 is supported.")]
    public int? N { get; init; }

    public long? Seed { get; init; }

    public StopStrings? Stop { get; init; }

    public bool? Stream { get; init; }

    public StreamOptions? StreamOptions { get; init; }

    /// <summary>text (the default), json_object or json_schema: the JSON kinds are held to by constrained decoding.</summary>
    public ResponseFormat? ResponseFormat { get; init; }

    /// <summary>OpenAI's defaults: temperature 1, top_p 1, all tokens, a fresh seed, the tokenizer's stop tokens.</summary>
    /// <param name="defaultMaxTokens">used when neither max_tokens nor max_completion_tokens is given</param>
    public SamplingOptions ToSampling(int defaultMaxTokens) => new()
    {
        MaxTokens = MaxTokens ?? MaxCompletionTokens ?? defaultMaxTokens,
        Temperature = (float)(Temperature ?? 1),
        TopP = (float)(TopP ?? 1),
        TopK = Math.Max(TopK ?? 0, 0),
        Seed = Seed,
        StopStrings = Stop?.Values ?? [],
    };
}

/// <summary>stream_options: include_usage adds a last chunk with the usage before [DONE].</summary>
internal sealed record StreamOptions(bool? IncludeUsage);

/// <summary>POST /v1/completions.</summary>
internal sealed record CompletionRequest : GenerationRequest
{
    [Required(ErrorMessage = "'prompt' is required: a string or an array of token ids.")]
    public PromptInput? Prompt { get; init; }
}
