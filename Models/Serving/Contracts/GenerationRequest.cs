using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization;
using Tessera.Generation;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// The fields /v1/completions and /v1/chat/completions share, as OpenAI names them (snake_case on the wire). Ranges are
/// DataAnnotations checked by <see cref="RequestReader"/>, as OpenAI documents them. Fields OpenAI has and Tessera does
/// not implement are refused with a 400 naming them (<see cref="UnsupportedFields"/>); fields OpenAI does not have are
/// ignored.
/// </summary>
internal abstract record GenerationRequest
{
    /// <summary>The most choices one request may ask for (n, best_of): each takes a slot of the batcher.</summary>
    public const int MaxChoices = 16;

    /// <summary>The most stop strings, as OpenAI allows.</summary>
    public const int MaxStopStrings = 4;

    public string? Model { get; init; }

    [Range(1, int.MaxValue, ErrorMessage = "'max_tokens' must be at least 1.")]
    public int? MaxTokens { get; init; }

    /// <summary>The chat API's newer name for max_tokens; max_tokens wins when both are given.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "'max_completion_tokens' must be at least 1.")]
    public int? MaxCompletionTokens { get; init; }

    [Range(0.0, 2.0, ErrorMessage = "'temperature' must be in [0, 2].")]
    public double? Temperature { get; init; }

    [Range(0.0, 1.0, MinimumIsExclusive = true, ErrorMessage = "'top_p' must be in (0, 1].")]
    public double? TopP { get; init; }

    /// <summary>vLLM's extension: 0 or -1 keep every token.</summary>
    [Range(-1, int.MaxValue, ErrorMessage = "'top_k' must be >= 0, or -1 or 0 for all tokens.")]
    public int? TopK { get; init; }

    [Range(1, MaxChoices, ErrorMessage = "'n' must be in [1, 16].")]
    public int? N { get; init; }

    [Range(-2.0, 2.0, ErrorMessage = "'presence_penalty' must be in [-2, 2].")]
    public double? PresencePenalty { get; init; }

    [Range(-2.0, 2.0, ErrorMessage = "'frequency_penalty' must be in [-2, 2].")]
    public double? FrequencyPenalty { get; init; }

    /// <summary>vLLM's extension (Hugging Face's semantics, over prompt and output): 1 is none.</summary>
    [Range(0.0, double.MaxValue, MinimumIsExclusive = true, ErrorMessage = "'repetition_penalty' must be a finite number > 0.")]
    public double? RepetitionPenalty { get; init; }

    /// <summary>vLLM's extension: 0 is none.</summary>
    [Range(0.0, 1.0, ErrorMessage = "'min_p' must be in [0, 1].")]
    public double? MinP { get; init; }

    /// <summary>Token ids (as strings, as OpenAI's JSON keys are) to biases in [-100, 100]; checked against the vocabulary by the endpoint.</summary>
    public Dictionary<string, double>? LogitBias { get; init; }

    /// <summary>An end-user identifier, for the operator's monitoring; it does not change the output.</summary>
    public string? User { get; init; }

    public long? Seed { get; init; }

    public StopStrings? Stop { get; init; }

    public bool? Stream { get; init; }

    public StreamOptions? StreamOptions { get; init; }

    /// <summary>text (the default), json_object or json_schema: the JSON kinds are held to by constrained decoding.</summary>
    public ResponseFormat? ResponseFormat { get; init; }

    /// <summary>Every field the contract does not name: those OpenAI defines and Tessera does not implement are refused (<see cref="UnsupportedFields"/>).</summary>
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? OtherFields { get; set; } // set, not init: the deserializer fills it after construction

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
        PresencePenalty = (float)(PresencePenalty ?? 0),
        FrequencyPenalty = (float)(FrequencyPenalty ?? 0),
        RepetitionPenalty = (float)(RepetitionPenalty ?? 1),
        MinP = (float)(MinP ?? 0),
    };
}

/// <summary>stream_options: include_usage adds a last chunk with the usage before [DONE].</summary>
internal sealed record StreamOptions(bool? IncludeUsage);

/// <summary>POST /v1/completions.</summary>
internal sealed record CompletionRequest : GenerationRequest
{
    [Required(ErrorMessage = "'prompt' is required: a string or an array of token ids.")]
    public PromptInput? Prompt { get; init; }

    /// <summary>The legacy shape: the log-probabilities of the chosen tokens and of the <c>logprobs</c> most likely ones.</summary>
    [Range(0, 5, ErrorMessage = "'logprobs' must be an integer in [0, 5].")]
    public int? Logprobs { get; init; }

    /// <summary>The prompt is prepended to each choice's text (and, with logprobs, its tokens' log-probabilities to its logprobs).</summary>
    public bool? Echo { get; init; }

    /// <summary>Generates this many choices and returns the n with the highest cumulative log-probability.</summary>
    [Range(1, MaxChoices, ErrorMessage = "'best_of' must be in [1, 16].")]
    public int? BestOf { get; init; }

    /// <summary>Text after the completion (insertion): refused unless empty (<see cref="UnsupportedFields"/>).</summary>
    public string? Suffix { get; init; }
}
