namespace Tessera.Generation;

/// <summary>
/// Picks the next token from a row of logits by one request's <see cref="SamplingOptions"/>, in vLLM's order: the
/// constraint's mask, the logit bias and the penalties first (<see cref="Process"/>: repetition over the prompt and
/// output, then frequency and presence over the output), then greedy (the first index of the maximum, as the reference
/// implementations break ties) when the temperature is 0 or top-k is 1; otherwise a draw from softmax(logits / T) in
/// double precision (max subtracted first, so no exponent overflows), cut to the top k, then to the top-p nucleus, then
/// to the tokens at least min-p times as likely as the most likely (vLLM v0's order; v1 cuts min-p before top-k and
/// top-p, which differs only when top-p and min-p are both set). Each sampler owns its random stream and the counts
/// of its sequence's tokens: one per sequence, so draws never depend on batching. Not thread-safe (one sequence is
/// sampled by one thread at a time).
/// </summary>
public sealed class Sampler
{
    private readonly SplitMix64 _random;
    private readonly ITokenConstraint? _constraint;
    private int _drawn;
    private readonly Dictionary<int, int> _generated = []; // output token -> times generated (kept only under a penalty)
    private readonly HashSet<int> _seen = [];              // prompt and output tokens (kept only under a repetition penalty)

    /// <param name="options">how to pick</param>
    /// <param name="prompt">the sequence's prompt, which the repetition penalty counts as seen</param>
    public Sampler(SamplingOptions options, ReadOnlySpan<int> prompt = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _random = new SplitMix64(options.Seed is long seed ? unchecked((ulong)seed) : (ulong)Random.Shared.NextInt64());
        _constraint = options.Constraint?.Invoke();
        if (HasRepetitionPenalty)
            foreach (int id in prompt) _seen.Add(id);
    }

    public SamplingOptions Options { get; }

    /// <summary>True when no random draw is made: temperature 0 or top-k 1.</summary>
    public bool IsGreedy => Options.Temperature == 0 || Options.TopK == 1;

    private bool HasRepetitionPenalty => Options.RepetitionPenalty != 1;

    private bool HasOutputPenalty => Options.PresencePenalty != 0 || Options.FrequencyPenalty != 0;

    /// <summary>
    /// The next token id, in [0, logits.Length). The row is the caller's scratch: the constraint's mask, the bias and
    /// the penalties are applied to it in place; the rule (if any) and the penalties' counts take the drawn token.
    /// </summary>
    public int Sample(Span<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("There are no logits to sample from.", nameof(logits));
        _constraint?.Mask(logits, Options.MaxTokens - _drawn++);
        Process(logits);
        int token = Draw(logits);
        _constraint?.Accept(token);
        Took(token);
        return token;
    }

    /// <summary>
    /// The logit bias, then the penalties, applied in place, for the tokens this sampler has seen so far:
    /// <c>l[j] /= r</c> (or <c>*= r</c> for a negative logit) for each j in the prompt or output (repetition r), then
    /// <c>l[j] -= c[j] * frequency + (c[j] &gt; 0 ? presence : 0)</c> with c[j] the times j was generated.
    /// </summary>
    public void Process(Span<float> logits)
    {
        if (Options.LogitBias is { } bias)
            foreach (var (id, value) in bias)
                if ((uint)id < (uint)logits.Length) logits[id] += value;
        if (HasRepetitionPenalty)
        {
            float penalty = Options.RepetitionPenalty;
            foreach (int id in _seen)
                if ((uint)id < (uint)logits.Length) logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
        }
        if (HasOutputPenalty)
            foreach (var (id, count) in _generated)
                if ((uint)id < (uint)logits.Length) logits[id] -= count * Options.FrequencyPenalty + Options.PresencePenalty;
    }

    /// <summary>Counts a token of the output (what the penalties see next).</summary>
    private void Took(int token)
    {
        if (HasRepetitionPenalty) _seen.Add(token);
        if (HasOutputPenalty) _generated[token] = _generated.GetValueOrDefault(token) + 1;
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
    /// The probability of every token under these options (zero where top-k, top-p or min-p cut it), summing to 1: what
    /// <see cref="Sample"/> draws from once <see cref="Process"/> has run. Greedy options give a one-hot distribution.
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

        bool cut = Options.TopK > 0 && Options.TopK < logits.Length || Options.TopP < 1 || Options.MinP > 0;
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
        if (Options.MinP > 0)
        {
            // Relative to the most likely token, which is kept first: min-p needs no normalisation.
            double floor = Options.MinP * weights[order[0]];
            int kept = 1;
            while (kept < keep && weights[order[kept]] >= floor) kept++;
            keep = kept;
        }
        var ids = order[..keep];
        return (ids, ids.Select(id => weights[id]).ToArray());
    }
}
