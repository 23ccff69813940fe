using System.Diagnostics;
using System.Globalization;
using Tessera.Models;
using Tessera.Parallelism;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Sequence parallelism on a long prompt: the prefill of one sequence (default 2,048 tokens of a 4,096-token context)
/// on one device and split over sp2 (and sp2 x tp2 where the cores allow), a few decode steps after it, and the KV
/// cache bytes each device holds. Tokens/s are the best of a few runs, each on a fresh sequence.
/// </summary>
public static class SequenceParallelPrefill
{
    private const int Repeats = 2;

    public static void Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        string directory = args.Length > 0 && args[0] != "llama-4k"
            ? (Directory.Exists(args[0]) ? args[0] : EngineCatalog.Bundled(args[0]))
            : RandomLlamaCheckpoint.Create("llama-512x8-4k", dim: 512, layers: 8, heads: 8, kvHeads: 8, intermediate: 1408, vocab: 32000, context: 4096);
        int promptLength = args.Length > 1 ? int.Parse(args[1], inv) : 2048;
        int steps = args.Length > 2 ? int.Parse(args[2], inv) : 16;
        var facts = EngineCatalog.Facts(directory);
        promptLength = Math.Min(promptLength, facts.ContextLength - steps);
        var random = new Random(5);
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(facts.VocabSize)).ToArray();

        Console.WriteLine(string.Create(inv,
            $"{facts.ModelName} ({directory}), context {facts.ContextLength}: prefill of one {promptLength}-token prompt, then {steps} decode steps (best of {Repeats}); {Environment.ProcessorCount} cores"));
        Console.WriteLine($"{"plan",-12} {"prefill tok/s",14} {"ratio",7} {"decode tok/s",13} {"ratio",7} {"KV per device (MB)",20} {"of one device's",16}");

        double basePrefill = 0, baseDecode = 0, baseKv = 0;
        foreach (var (name, plan) in new (string, ParallelPlan?)[] { ("one device", null), ("sp2", new ParallelPlan(Sequence: 2)), ("sp2 x tp2", new ParallelPlan(Sequence: 2, Tensor: 2)) })
        {
            var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan);
            try
            {
                // Warm-up: JIT, workspaces.
                Measure(engine, prompt[..Math.Min(64, prompt.Length)], 2);
                (double Prefill, double Decode, double KvBytes) best = (0, 0, 0);
                for (int i = 0; i < Repeats; i++)
                {
                    var m = Measure(engine, prompt, steps);
                    best = (Math.Max(best.Prefill, m.Prefill), Math.Max(best.Decode, m.Decode), m.KvBytes);
                }
                if (plan is null) (basePrefill, baseDecode, baseKv) = best;
                Console.WriteLine(string.Create(inv,
                    $"{name,-12} {best.Prefill,14:F1} {best.Prefill / basePrefill,7:F2} {best.Decode,13:F1} {best.Decode / baseDecode,7:F2} {best.KvBytes / 1e6,20:F1} {best.KvBytes / baseKv,16:F2}"));
            }
            finally
            {
                (engine as IDisposable)?.Dispose();
            }
        }
    }

    /// <summary>Prefill tokens/s, decode tokens/s, and the KV bytes the largest device holds for the sequence.</summary>
    private static (double Prefill, double Decode, double KvBytes) Measure(ITransformerEngine engine, int[] prompt, int steps)
    {
        var cache = engine.CreateCache();
        long kvBefore = engine is ParallelEngine p0 ? p0.Devices.Max(d => d.Memory.KvCache) : 0;
        var clock = Stopwatch.StartNew();
        float[] logits = engine.Forward(TokenBatch.ForSequence(cache, prompt, lastLogitsOnly: true));
        double prefill = prompt.Length / clock.Elapsed.TotalSeconds;
        clock.Restart();
        for (int i = 0; i < steps; i++)
            logits = engine.Forward(TokenBatch.ForSequence(cache, [ArgMax(logits)], lastLogitsOnly: true));
        double decode = steps / clock.Elapsed.TotalSeconds;
        double kv = engine is ParallelEngine p ? p.Devices.Max(d => d.Memory.KvCache) - kvBefore : cache.Bytes;
        return (prefill, decode, kv);
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
