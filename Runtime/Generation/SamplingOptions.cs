namespace Tessera.Generation;

/// <summary>
/// How one request picks its tokens and when it stops. Immutable; the defaults are greedy decoding of up to 16 tokens,
/// stopping at the tokenizer's end-of-sequence ids.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding (argmax), 16 tokens, the tokenizer's stop tokens.</summary>
    public static SamplingOptions Greedy { get; } = new();

    /// <summary>Divides the logits before the softmax; 0 means greedy (argmax), larger values flatten the distribution.</summary>
    public float Temperature { get; init; }

    /// <summary>Keep only the K most likely tokens; 0 keeps all. Top-k = 1 is greedy.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches P; 1 keeps all.</summary>
    public float TopP { get; init; } = 1;

    /// <summary>Seeds the request's own random stream, so a request is reproducible whatever else is batched with it; null: a fresh seed.</summary>
    public long? Seed { get; init; }

    /// <summary>The most tokens to generate (stop tokens included). Generation also ends when the model's context is full.</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Token ids that end the generation (the id itself is the last generated token); null: the tokenizer's end-of-sequence ids; empty: none.</summary>
    public IReadOnlyList<int>? StopTokens { get; init; }

    /// <summary>Texts that end the generation when they appear in the output; the output text stops just before the match.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>
    /// Makes the rule each sequence's output must follow (a grammar: JSON, a schema, a tool call), one instance per
    /// sequence; null: any token may follow any other.
    /// </summary>
    public Func<ITokenConstraint>? Constraint { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0)
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, $"temperature must be a finite number >= 0 (got {Temperature}).");
        if (TopK < 0)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, $"top_k must be >= 0, 0 meaning all tokens (got {TopK}).");
        if (!(TopP > 0 && TopP <= 1))
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, $"top_p must be in (0, 1] (got {TopP}).");
        if (MaxTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, $"max tokens must be at least 1 (got {MaxTokens}).");
        if (StopStrings.Any(string.IsNullOrEmpty))
            throw new ArgumentException("stop strings must not be empty.", nameof(StopStrings));
    }
}
