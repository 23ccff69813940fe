namespace Tessera.Generation;

/// <summary>
/// Picks the next token from a row of logits by one request's <see cref="SamplingOptions"/>: greedy (the first index of
/// the maximum, as the reference implementations break ties) when the temperature is 0 or top-k is 1; otherwise a draw
/// from softmax(logits / T) in double precision (max subtracted first, so no exponent overflows), cut to the top k and
/// then to the top-p nucleus. Each sampler owns its random stream: one per request, so draws never depend on batching.
/// Not thread-safe (one request is sampled by one thread at a time).
/// </summary>
public sealed class Sampler
{
    private readonly SplitMix64 _random;
    private readonly ITokenConstraint? _constraint;
    private int _drawn;

    public Sampler(SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _random = new SplitMix64(options.Seed is long seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64());
        _constraint = options.Constraint?.Invoke();
    }

    public SamplingOptions Options { get; }

    /// <summary>True when no random draw is made: temperature 0 or top-k 1.</summary>
    public bool IsGreedy => Options.Temperature == 0 || Options.TopK == 1;

    /// <summary>
    /// The next token id, in [0, logits.Length). With a <see cref="SamplingOptions.Constraint"/> the tokens it forbids
    /// are masked in <paramref name="logits"/> first (the row is the caller's scratch) and the rule takes the token.
    /// </summary>
    public int Sample(Span<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("There are no logits to sample from.", nameof(logits));
        if (_constraint is null) return Draw(logits);
        _constraint.Mask(logits, Options.MaxTokens - _drawn++);
        int token = Draw(logits);
        _constraint.Accept(token);
        return token;
    }

    private int Draw(ReadOnlySpan<float> logits)
    {
        if (IsGreedy) return ArgMax(logits);
        var (ids, weights) = Candidates(logits);
        double total = 0;
        foreach (double w in weights) total += w;
        double target = _random.NextDouble() * total;
        for (int i = 0; i < ids.Length; i++)
        {
            target -= weights[i];
            if (target < 0) return ids[i];
        }
        return ids[^1]; // rounding left a sliver of the total: the last candidate owns it
    }

    /// <summary>
    /// The probability of every token under these options (zero where top-k or top-p cut it), summing to 1: what
    /// <see cref="Sample"/> draws from. Greedy options give a one-hot distribution.
    /// </summary>
    public double[] Distribution(ReadOnlySpan<float> logits)
    {
        var probabilities = new double[logits.Length];
        if (IsGreedy)
        {
            probabilities[ArgMax(logits)] = 1;
            return probabilities;
        }
        var (ids, weights) = Candidates(logits);
        double total = weights.Sum();
        for (int i = 0; i < ids.Length; i++) probabilities[ids[i]] = weights[i] / total;
        return probabilities;
    }

    /// <summary>The first index of the maximum (NaN never wins).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best] || float.IsNaN(values[best])) best = i;
        return best;
    }

    /// <summary>The kept tokens, most likely first (ties by lower id), with unnormalised weights exp((l - max) / T).</summary>
    private (int[] Ids, double[] Weights) Candidates(ReadOnlySpan<float> logits)
    {
        double temperature = Options.Temperature;
        float max = logits[ArgMax(logits)];
        var weights = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++)
            weights[i] = float.IsNaN(logits[i]) ? 0 : Math.Exp(((double)logits[i] - max) / temperature);

        bool cut = Options.TopK > 0 && Options.TopK < logits.Length || Options.TopP < 1;
        if (!cut) return (Enumerable.Range(0, logits.Length).ToArray(), weights);

        // Sort by logit (not weight): at a tiny temperature many weights underflow to 0 but the logits still order them.
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var keys = logits.ToArray();
        Array.Sort(order, (a, b) => keys[b].CompareTo(keys[a]) is int c and not 0 ? c : a.CompareTo(b));
        int keep = Options.TopK > 0 ? Math.Min(Options.TopK, order.Length) : order.Length;
        if (Options.TopP < 1)
        {
            double total = 0;
            for (int i = 0; i < keep; i++) total += weights[order[i]];
            double running = 0;
            for (int i = 0; i < keep; i++)
            {
                running += weights[order[i]];
                // The nucleus ends with the token that reaches P (so at least one token is always kept).
                if (running >= Options.TopP * total)
                {
                    keep = i + 1;
                    break;
                }
            }
        }
        var ids = order[..keep];
        return (ids, ids.Select(id => weights[id]).ToArray());
    }
}
