using System.Diagnostics;
using System.Globalization;
using Tessera.Cpu;
using Tessera.Models;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Whole-process throughput: load, prefill a prompt, decode greedily, report tokens/s and the weight bandwidth that
/// decode reaches (weight bytes read per token x tokens/s), which is what bounds a memory-bound decode.
/// </summary>
/// <remarks>
/// Warm figures are medians over several generations after one of the same size (so that JIT, pools and caches are
/// settled); <c>cold</c> reports the first generation of this process instead, as a fresh <c>tessera generate</c> sees it.
/// </remarks>
public static class TokensPerSecond
{
    /// <summary>Prefill and decode tokens/s of one measurement (medians when warm).</summary>
    public sealed record Figures(double Prefill, double Decode, double LoadSeconds, long WeightBytes, string ModelName);

    public static void Run(string[] args)
    {
        string directory = ModelFolder(args.Length > 0 ? args[0] : "medium");
        int promptLength = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 128;
        int newTokens = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        // A GGUF file runs its weights as stored; a folder as F32 unless asked for bf16, q8_0 or q4_0 (quantized at load).
        var precision = args.Length > 3 && Enum.TryParse<WeightPrecision>(args[3], ignoreCase: true, out var asked) ? asked
            : File.Exists(directory) ? WeightPrecision.Stored : WeightPrecision.F32;
        bool cold = args.Contains("cold");
        // runs=N: more generations (e.g. to profile a steady state under perf).
        int runs = args.FirstOrDefault(a => a.StartsWith("runs=", StringComparison.Ordinal)) is { } r ? int.Parse(r[5..], CultureInfo.InvariantCulture) : 5;

        var figures = Measure(directory, precision, promptLength, newTokens, cold ? 0 : runs);
        double gbPerSecond = figures.WeightBytes * figures.Decode / 1e9;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{figures.ModelName} {directory}: {figures.WeightBytes / 1e6:F0} MB weights ({precision}), load {figures.LoadSeconds:F2} s, {Environment.ProcessorCount} cores, {(cold ? "first request" : "warm medians")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prefill {promptLength} tokens: {figures.Prefill:F1} tokens/s; decode {newTokens} tokens: {figures.Decode:F1} tokens/s (weights streamed at {gbPerSecond:F1} GB/s)"));
    }

    /// <summary>A folder, or one of the benchmark's random Llama models by name: small (24M) or medium (134M).</summary>
    public static string ModelFolder(string name) => name switch
    {
        "small" or "24m" => RandomLlamaCheckpoint.Small(),
        "medium" or "134m" => RandomLlamaCheckpoint.Medium(),
        _ => name,
    };

    /// <summary>
    /// Opens the model and generates <paramref name="newTokens"/> after a random prompt. With <paramref name="runs"/> = 0,
    /// the figures of the process's first generation; otherwise one generation to warm up, then the medians of
    /// <paramref name="runs"/> generations.
    /// </summary>
    public static Figures Measure(string directory, WeightPrecision precision, int promptLength, int newTokens, int runs)
    {
        var load = Stopwatch.StartNew();
        var engine = EngineCatalog.Open(directory, EngineKind.Generic, new Tessera.Parallelism.ParallelPlan { Precision = precision });
        var warmCache = EngineCatalog.WarmUp(engine, promptLength + newTokens, EngineCatalog.WarmUpPromptRowsFor(promptLength)); // as tessera generate does
        double loadSeconds = load.Elapsed.TotalSeconds;
        try
        {
            var random = new Random(7);
            int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(engine.Shape.VocabSize)).ToArray();
            // Every run reuses the warm-up's cache, as a server does (and llama-bench its context): warm runs measure the
            // forwards, not the allocation of a cache per run.
            var first = GreedyDecoder.Generate(engine, prompt, newTokens, cache: warmCache);
            if (runs == 0)
                return new Figures(first.PrefillTokensPerSecond, first.DecodeTokensPerSecond, loadSeconds, engine.WeightBytes, engine.Shape.ModelName);
            var results = Enumerable.Range(0, runs).Select(_ => GreedyDecoder.Generate(engine, prompt, newTokens, cache: warmCache)).ToArray();
            return new Figures(Median(results.Select(r => r.PrefillTokensPerSecond)), Median(results.Select(r => r.DecodeTokensPerSecond)),
                loadSeconds, engine.WeightBytes, engine.Shape.ModelName);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
