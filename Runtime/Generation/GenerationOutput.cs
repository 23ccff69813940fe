namespace Tessera.Generation;

/// <summary>What one request (one choice of it) produced, once it has finished.</summary>
/// <param name="PromptTokens">the prompt's ids</param>
/// <param name="Tokens">the generated ids, a stop token included (the tokens that spelled a stop string are kept too)</param>
/// <param name="Text">the generated text: stop tokens and special tokens decode to nothing; a stop string and what follows it are cut</param>
/// <param name="FinishReason">why it ended</param>
/// <param name="Metrics">latency and throughput of this request</param>
public sealed record GenerationOutput(int[] PromptTokens, int[] Tokens, string Text, FinishReason FinishReason, GenerationMetrics Metrics)
{
    /// <summary>Which of the request's choices this is (<see cref="ContinuousBatcher.SubmitChoices"/>); 0 for a single one.</summary>
    public int Choice { get; init; }

    /// <summary>One per generated token when <see cref="SamplingOptions.Logprobs"/> asked; else null.</summary>
    public IReadOnlyList<TokenLogprob>? Logprobs { get; init; }

    /// <summary>
    /// One per prompt token when <see cref="SamplingOptions.PromptLogprobs"/> asked, the first null (nothing precedes
    /// it); else null.
    /// </summary>
    public IReadOnlyList<TokenLogprob?>? PromptLogprobs { get; init; }

    /// <summary>The sum of the generated tokens' log-probabilities (0 when none were computed).</summary>
    public double CumulativeLogprob => Logprobs?.Sum(l => l.Logprob) ?? 0;
}
