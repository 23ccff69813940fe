using System.Diagnostics;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>The workload the whole-process benchmarks time: one batched prefill, then greedy decode steps for every sequence together.</summary>
internal static class BatchedGeneration
{
    /// <returns>prefill tokens/s and decode tokens/s (sequences x steps over the decode time)</returns>
    public static (double Prefill, double Decode) Measure(ITransformerEngine engine, int[][] prompts, int steps)
    {
        var caches = prompts.Select(_ => engine.CreateCache()).ToArray();
        var clock = Stopwatch.StartNew();
        float[] logits = engine.Forward(TokenBatch.ForSequences(caches, prompts, lastLogitsOnly: true));
        double prefill = prompts.Sum(p => p.Length) / clock.Elapsed.TotalSeconds;
        int vocab = engine.Shape.VocabSize;
        clock.Restart();
        for (int step = 0; step < steps; step++)
        {
            int[][] next = Enumerable.Range(0, prompts.Length).Select(s => new[] { GreedyDecoder.ArgMax(logits.AsSpan(s * vocab, vocab)) }).ToArray();
            logits = engine.Forward(TokenBatch.ForSequences(caches, next, lastLogitsOnly: true));
        }
        return (prefill, prompts.Length * steps / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
    }
}
