namespace Tessera.Generation;

/// <summary>One generated token as it is streamed to the request's consumer.</summary>
/// <param name="Id">the token id (a stop token is streamed too: it is the last one)</param>
/// <param name="Text">
/// the text that may be shown now: what this token completes, after any text held back because it could start a stop
/// string or is an incomplete UTF-8 character; often empty. The texts of a request's tokens concatenate to its output text.
/// </param>
/// <param name="Index">0 for the first generated token</param>
/// <param name="Logprob">its log-probability and the top alternatives when <see cref="SamplingOptions.Logprobs"/> asked; else null</param>
public sealed record GeneratedToken(int Id, string Text, int Index, TokenLogprob? Logprob = null);
