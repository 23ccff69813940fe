using System.Diagnostics;

namespace Tessera;

/// <summary>
/// Greedy (argmax) generation: one batched prefill of the prompt, then one token at a time through the KV cache. Logits
/// that are not finite are a <see cref="NonFiniteLogitsException"/>, not a token.
/// </summary>
public static class GreedyDecoder
{
    /// <param name="cache">a cache of this engine to reuse (it is reset first), as a server reuses its caches; by default a new one</param>
    public static GenerationResult Generate(ITransformerEngine engine, ReadOnlySpan<int> prompt, int maxNewTokens, Action<int>? onToken = null, KvCache? cache = null)
    {
        if (prompt.Length == 0) throw new ArgumentException("The prompt needs at least one token.");
        if (maxNewTokens < 0) throw new ArgumentOutOfRangeException(nameof(maxNewTokens), "max new tokens must not be negative.");
        int context = engine.Shape.ContextLength;
        // Each new token but the last is fed back, so the sequence reaches prompt + maxNewTokens - 1 positions (counted
        // in long: int.MaxValue new tokens must be refused here, not wrap around and size a list of them).
        long needed = (long)prompt.Length + Math.Max(maxNewTokens - 1, 0);
        if (needed > context) throw new ContextOverflowException(needed, context);

        if (cache is null) cache = engine.CreateCache();
        else cache.Reset();
        var tokens = new List<int>(maxNewTokens);
        var clock = Stopwatch.StartNew();
        if (maxNewTokens == 0) return new GenerationResult([], 0, 0, prompt.Length);

        // One logits row for every step (engines that honour it write into it; see TokenBatch.WithLogitsInto).
        var row = new float[engine.Shape.VocabSize];
        float[] logits = engine.Forward(TokenBatch.ForSequence(cache, prompt, lastLogitsOnly: true).WithLogitsInto(row));
        double prefill = clock.Elapsed.TotalSeconds;
        NonFiniteLogitsException.ThrowIfAny(logits, logits.Length);
        int next = ArgMax(logits);
        tokens.Add(next);
        onToken?.Invoke(next);
        clock.Restart();
        while (tokens.Count < maxNewTokens)
        {
            logits = engine.Forward(TokenBatch.ForSequence(cache, [next], lastLogitsOnly: true).WithLogitsInto(row));
            NonFiniteLogitsException.ThrowIfAny(logits, logits.Length);
            next = ArgMax(logits);
            tokens.Add(next);
            onToken?.Invoke(next);
        }
        return new GenerationResult(tokens.ToArray(), prefill, clock.Elapsed.TotalSeconds, prompt.Length);
    }

    /// <summary>The first index of the maximum, as the reference implementations break ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }
}
