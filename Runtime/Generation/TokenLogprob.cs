namespace Tessera.Generation;

/// <summary>
/// The log-probability of one token at one position, and those of the most likely tokens there. Log-probabilities are
/// the log-softmax of the model's raw logits, as vLLM reports them by default: before the logit bias, the penalties,
/// the temperature and the cuts of top-k, top-p and min-p (so they say what the model thinks, not what the sampler drew
/// from), computed in double precision.
/// </summary>
/// <param name="Id">the token at this position (generated, or the prompt's)</param>
/// <param name="Logprob">its log-probability, &lt;= 0 (negative infinity for a token the model rules out)</param>
/// <param name="Top">the most likely tokens, most likely first (ties: lower id first); as many as asked, maybe none</param>
public sealed record TokenLogprob(int Id, double Logprob, IReadOnlyList<TopLogprob> Top)
{
    /// <summary>The log-probabilities of <paramref name="id"/> and of the <paramref name="top"/> most likely tokens under <paramref name="logits"/>.</summary>
    public static TokenLogprob Of(ReadOnlySpan<float> logits, int id, int top) => Of(LogSoftmax(logits), id, top);

    /// <summary>The entry of <paramref name="id"/> and the <paramref name="top"/> best of a row of log-probabilities (<see cref="LogSoftmax"/>).</summary>
    public static TokenLogprob Of(double[] logprobs, int id, int top) => new(id, logprobs[id], Best(logprobs, top));

    /// <summary>
    /// log softmax(logits) in double precision: l - max - log(sum exp(l - max)). A NaN logit counts as negative infinity.
    /// </summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits)
            if (l > max) max = l;
        var result = new double[logits.Length];
        if (double.IsNegativeInfinity(max))
        {
            Array.Fill(result, double.NegativeInfinity);
            return result;
        }
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsNaN(logits[i])) sum += Math.Exp(logits[i] - max);
        double logSum = max + Math.Log(sum);
        for (int i = 0; i < logits.Length; i++)
            result[i] = float.IsNaN(logits[i]) ? double.NegativeInfinity : logits[i] - logSum;
        return result;
    }

    /// <summary>The <paramref name="count"/> largest log-probabilities, largest first, ties by lower id.</summary>
    private static TopLogprob[] Best(double[] logprobs, int count)
    {
        count = Math.Min(count, logprobs.Length);
        var best = new List<TopLogprob>(count + 1);
        for (int id = 0; id < logprobs.Length && count > 0; id++)
        {
            if (best.Count == count && logprobs[id] <= best[^1].Logprob) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Logprob < logprobs[id]) at--;
            best.Insert(at, new TopLogprob(id, logprobs[id]));
            if (best.Count > count) best.RemoveAt(count);
        }
        return best.ToArray();
    }
}
