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
    /// OpenAI's presence penalty, -2 to 2: subtracted once from the logit of every token the sequence has generated
    /// (the prompt does not count). 0: none.
    /// </summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI's frequency penalty, -2 to 2: subtracted from a token's logit once per time the sequence generated it. 0: none.</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>
    /// vLLM's (and Hugging Face's) repetition penalty, &gt; 0: the logit of every token in the prompt or the output is
    /// divided by it when positive and multiplied by it when negative. 1: none.
    /// </summary>
    public float RepetitionPenalty { get; init; } = 1;

    /// <summary>Added to the logits of these token ids before anything else (OpenAI's logit_bias; -100 all but bans a token); null: none.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>vLLM's min-p, 0 to 1: after top-k and top-p, drops the tokens less likely than MinP times the most likely one. 0: none.</summary>
    public float MinP { get; init; }

    /// <summary>
    /// Reports each generated token's log-probability and those of the <c>Logprobs</c> most likely tokens
    /// (<see cref="GeneratedToken.Logprob"/>, <see cref="GenerationOutput.Logprobs"/>); null: none computed.
    /// </summary>
    public int? Logprobs { get; init; }

    /// <summary>
    /// Reports the log-probability of every prompt token after the first (and of the <c>PromptLogprobs</c> most likely
    /// tokens at each position): the prefill then computes the logits of every prompt row. Null: none computed.
    /// </summary>
    public int? PromptLogprobs { get; init; }

    /// <summary>The most alternatives <see cref="Logprobs"/> and <see cref="PromptLogprobs"/> may ask for (OpenAI's top_logprobs limit).</summary>
    public const int MaxTopLogprobs = 20;

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
        if (!float.IsFinite(PresencePenalty) || Math.Abs(PresencePenalty) > 2)
            throw new ArgumentOutOfRangeException(nameof(PresencePenalty), PresencePenalty, $"presence_penalty must be in [-2, 2] (got {PresencePenalty}).");
        if (!float.IsFinite(FrequencyPenalty) || Math.Abs(FrequencyPenalty) > 2)
            throw new ArgumentOutOfRangeException(nameof(FrequencyPenalty), FrequencyPenalty, $"frequency_penalty must be in [-2, 2] (got {FrequencyPenalty}).");
        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0)
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, $"repetition_penalty must be a finite number > 0 (got {RepetitionPenalty}).");
        if (!(MinP >= 0 && MinP <= 1))
            throw new ArgumentOutOfRangeException(nameof(MinP), MinP, $"min_p must be in [0, 1] (got {MinP}).");
        foreach (var (id, bias) in LogitBias ?? new Dictionary<int, float>())
            if (id < 0 || !float.IsFinite(bias) || Math.Abs(bias) > 100)
                throw new ArgumentOutOfRangeException(nameof(LogitBias), $"logit_bias maps token ids >= 0 to biases in [-100, 100] (got {id}: {bias}).");
        if (Logprobs is < 0 or > MaxTopLogprobs)
            throw new ArgumentOutOfRangeException(nameof(Logprobs), Logprobs, $"logprobs asks for 0 to {MaxTopLogprobs} alternatives (got {Logprobs}).");
        if (PromptLogprobs is < 0 or > MaxTopLogprobs)
            throw new ArgumentOutOfRangeException(nameof(PromptLogprobs), PromptLogprobs, $"prompt logprobs asks for 0 to {MaxTopLogprobs} alternatives (got {PromptLogprobs}).");
        if (StopStrings.Any(string.IsNullOrEmpty))
            throw new ArgumentException("stop strings must not be empty.", nameof(StopStrings));
    }

    /// <summary>
    /// The options of choice <paramref name="choice"/> of a request that asks for several from one prompt: choice 0 is
    /// these options; another draws from its own stream, seeded from (<see cref="Seed"/>, choice) when a seed is set, so
    /// every choice of a seeded request is reproducible.
    /// </summary>
    public SamplingOptions ForChoice(int choice)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(choice);
        if (choice == 0 || Seed is not long seed) return this;
        // XOR with a multiple of an odd constant other than SplitMix64's increment: the streams do not overlap as
        // seed + choice would (that is the same stream, shifted by a draw).
        return this with { Seed = unchecked(seed ^ (long)((ulong)choice * 0xD1B54A32D192ED03UL)) };
    }
}
