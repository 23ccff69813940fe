namespace Tessera.Generation;

/// <summary>One of the most likely tokens at a position, with its log-probability (see <see cref="TokenLogprob"/>).</summary>
public readonly record struct TopLogprob(int Id, double Logprob);
