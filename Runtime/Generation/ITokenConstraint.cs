namespace Tessera.Generation;

/// <summary>
/// A rule on what one sequence may generate (JSON, a JSON schema, a tool call): before each draw the
/// <see cref="Sampler"/> lets the rule forbid the tokens that would break it, and after the draw it tells the rule which
/// token was taken. Stateful: one instance per sequence, made by <see cref="SamplingOptions.Constraint"/>.
/// </summary>
public interface ITokenConstraint
{
    /// <summary>
    /// Sets to negative infinity the logit of every token that would make the output no longer a valid prefix of the
    /// rule. Stop tokens are allowed only once the output is complete (<see cref="IsComplete"/>); at least one token is
    /// always left allowed. <paramref name="tokensLeft"/> counts the tokens the sequence may still take, this one
    /// included (<see cref="int.MaxValue"/>: no limit): a rule may steer the output to end within them.
    /// </summary>
    void Mask(Span<float> logits, int tokensLeft);

    /// <summary>Advances the rule past the token taken (one the last <see cref="Mask"/> allowed).</summary>
    void Accept(int token);

    /// <summary>Whether the output so far is a whole sentence of the rule (generation may end here).</summary>
    bool IsComplete { get; }
}
