namespace Tessera.Generation;

/// <summary>What one request produced, once it has finished.</summary>
/// <param name="PromptTokens">the prompt's ids</param>
/// <param name="Tokens">the generated ids, a stop token included (the tokens that spelled a stop string are kept too)</param>
/// <param name="Text">the generated text: stop tokens and special tokens decode to nothing; a stop string and what follows it are cut</param>
/// <param name="FinishReason">why it ended</param>
/// <param name="Metrics">latency and throughput of this request</param>
public sealed record GenerationOutput(int[] PromptTokens, int[] Tokens, string Text, FinishReason FinishReason, GenerationMetrics Metrics);
