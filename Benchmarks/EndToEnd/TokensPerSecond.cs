using System.Diagnostics;
using System.Globalization;
using Tessera.Models;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Whole-process throughput: load, prefill a prompt, decode greedily, report tokens/s and the weight bandwidth that
/// decode reaches (weight bytes read per token x tokens/s), which is what bounds a memory-bound decode.
/// </summary>
public static class TokensPerSecond
{
    public static void Run(string[] args)
    {
        string directory = args.Length > 0 && args[0] != "medium" ? args[0] : RandomLlamaCheckpoint.Medium();
        int promptLength = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 128;
        int newTokens = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        var precision = args.Length > 3 && args[3].Equals("bf16", StringComparison.OrdinalIgnoreCase) ? Tessera.Cpu.WeightPrecision.BF16 : Tessera.Cpu.WeightPrecision.F32;

        var load = Stopwatch.StartNew();
        var engine = EngineCatalog.Open(directory, EngineKind.Generic, new Tessera.Parallelism.ParallelPlan { Precision = precision });
        double loadSeconds = load.Elapsed.TotalSeconds;
        var random = new Random(7);
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(engine.Shape.VocabSize)).ToArray();

        GreedyDecoder.Generate(engine, prompt[..Math.Min(8, promptLength)], 4); // warm-up: JIT and workspace
        var result = GreedyDecoder.Generate(engine, prompt, newTokens);

        double gbPerSecond = engine.WeightBytes * result.DecodeTokensPerSecond / 1e9;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{engine.Shape.ModelName} {directory}: {engine.WeightBytes / 1e6:F0} MB weights ({precision}), load {loadSeconds:F2} s, {Environment.ProcessorCount} cores"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prefill {promptLength} tokens: {result.PrefillTokensPerSecond:F1} tokens/s; decode {newTokens} tokens: {result.DecodeTokensPerSecond:F1} tokens/s (weights streamed at {gbPerSecond:F1} GB/s)"));
    }
}
