namespace Tessera;

/// <summary>What a greedy generation produced and how fast.</summary>
/// <param name="Tokens">the continuation (without the prompt)</param>
/// <param name="PrefillSeconds">time of the prompt's forward (time to first token)</param>
/// <param name="DecodeSeconds">time of the one-token steps after it</param>
public sealed record GenerationResult(int[] Tokens, double PrefillSeconds, double DecodeSeconds, int PromptTokens)
{
    public double PrefillTokensPerSecond => PromptTokens / Math.Max(PrefillSeconds, 1e-9);

    /// <summary>Tokens per second of the decode steps (the first token comes from the prefill).</summary>
    public double DecodeTokensPerSecond => Math.Max(Tokens.Length - 1, 0) / Math.Max(DecodeSeconds, 1e-9);
}
