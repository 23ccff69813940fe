using System.Diagnostics;
using System.Globalization;
using Tessera.Experts;
using Tessera.Models;
using Tessera.Parallelism;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// What a mixture-of-experts model saves and what expert parallelism costs, measured in one run:
/// <list type="number">
/// <item>one sequence on one device, the sparse model (top-k) against its dense variant (the same weights, top-E: every
/// token runs every expert): prefill and decode tokens/s, and the weight bytes each decoded token read, from the
/// routing actually done (the experts whose count in the engine's <see cref="ExpertLoad"/> moved during a step ran);</item>
/// <item>a batch of sequences on CPU virtual devices, ep2 and ep2 x tp2 against one device: prefill and decode tokens/s.</item>
/// </list>
/// </summary>
public static class MoeThroughput
{
    private const int BatchSequences = 4;

    /// <summary>Each measurement runs this many times and keeps the fastest prefill and decode (the machine may be shared).</summary>
    private const int Repeats = 3;

    /// <summary>Tokens/s of a prefill and of the decode steps after it, and how many (layer, expert) pairs ran per decode step.</summary>
    private sealed record Measurement(double Prefill, double Decode, double ExpertsRunPerStep);

    public static void Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        string directory = args.Length > 0 && args[0] != "mixtral-small" ? (Directory.Exists(args[0]) ? args[0] : EngineCatalog.Bundled(args[0])) : RandomMixtralCheckpoint.Small();
        int promptLength = args.Length > 1 ? int.Parse(args[1], inv) : 128;
        int newTokens = args.Length > 2 ? int.Parse(args[2], inv) : 64;
        var facts = EngineCatalog.Facts(directory);
        if (facts.Experts == 0)
        {
            Console.WriteLine($"{facts.ModelName} ({directory}) has no mixture-of-experts layers.");
            return;
        }
        string denseDirectory = RandomMixtralCheckpoint.DenseVariant(directory);
        var denseFacts = EngineCatalog.Facts(denseDirectory);
        promptLength = Math.Min(promptLength, facts.ContextLength - newTokens);

        // Weight bytes one decode step reads: everything but the experts once (attention, norms, router, final norm,
        // head; the embedding rows are negligible), plus each expert that ran. The same for both variants.
        long nonExpertBytes = facts.Layers * (facts.LayerWeightBytes - facts.LayerExpertWeightBytes) + facts.HeadWeightBytes;
        double bytesPerExpert = (double)facts.LayerExpertWeightBytes / facts.Experts;
        double allExpertsBytes = nonExpertBytes + facts.Layers * (double)facts.LayerExpertWeightBytes;
        double BytesPerToken(Measurement m, int sequences) => (nonExpertBytes + m.ExpertsRunPerStep * bytesPerExpert) / sequences;

        var random = new Random(7);
        int[] prompt = Enumerable.Range(0, promptLength).Select(_ => random.Next(facts.VocabSize)).ToArray();

        Console.WriteLine(string.Create(inv,
            $"{facts.ModelName} ({directory}): {facts.Layers} layers, {facts.Experts} experts (top-{facts.ExpertsPerToken}), " +
            $"{(nonExpertBytes + facts.Layers * facts.LayerExpertWeightBytes) / 1e6:F0} MB weights, of which experts {facts.Layers * facts.LayerExpertWeightBytes / 1e6:F0} MB; " +
            $"dense variant top-{denseFacts.ExpertsPerToken} ({denseDirectory}); {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine(string.Create(inv, $"one sequence on one device: prefill {promptLength} tokens, then {newTokens} greedy decode steps (best of {Repeats})"));
        Console.WriteLine($"{"model",-22} {"prefill tok/s",14} {"decode tok/s",13} {"experts run/layer",18} {"MB read/token",14}");

        Measurement Single(string dir)
        {
            var engine = EngineCatalog.Open(dir, EngineKind.Generic);
            try
            {
                Measure(engine, [prompt[..Math.Min(8, prompt.Length)]], 2); // warm-up: JIT and workspaces
                return Best(() => Measure(engine, [prompt], newTokens));
            }
            finally
            {
                (engine as IDisposable)?.Dispose();
            }
        }
        void Row(string label, Measurement m) => Console.WriteLine(string.Create(inv,
            $"{label,-22} {m.Prefill,14:F1} {m.Decode,13:F1} {m.ExpertsRunPerStep / facts.Layers,18:F2} {BytesPerToken(m, 1) / 1e6,14:F1}"));

        var sparse = Single(directory);
        Row($"sparse (top-{facts.ExpertsPerToken})", sparse);
        var dense = Single(denseDirectory);
        Row($"dense (top-{denseFacts.ExpertsPerToken})", dense);
        Console.WriteLine(string.Create(inv,
            $"{"all experts (sizes)",-22} {"",14} {"",13} {facts.Experts,18:F2} {allExpertsBytes / 1e6,14:F1}"));

        // The sparse model on CPU virtual devices: a batch of sequences, prefilled together, then decoded together.
        int batchPrompt = promptLength;
        int[][] prompts = Enumerable.Range(0, BatchSequences).Select(_ => Enumerable.Range(0, batchPrompt).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        var plans = new (string Name, ParallelPlan? Plan)[]
        {
            ("one device", null),
            ("ep2", new ParallelPlan(Expert: 2)),
            ("ep2 x tp2", new ParallelPlan(Expert: 2, Tensor: 2)),
        };
        Console.WriteLine();
        Console.WriteLine(string.Create(inv,
            $"sparse model, {BatchSequences} sequences x {batchPrompt} prompt tokens, then {newTokens} decode steps of all {BatchSequences} together, on CPU virtual devices (best of {Repeats})"));
        Console.WriteLine($"{"plan",-22} {"prefill tok/s",14} {"ratio",7} {"decode tok/s",13} {"ratio",7} {"experts run/layer",18} {"MB read/token",14}");
        var results = new List<(string Name, Measurement? M)>();
        Measurement? baseline = null;
        foreach (var (name, plan) in plans)
        {
            if (plan is not null && plan.Validate(facts).Count > 0)
            {
                Console.WriteLine($"{name,-22} (not valid for this model: {string.Join(" ", plan.Validate(facts))})");
                results.Add((name, null));
                continue;
            }
            var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan);
            try
            {
                Measure(engine, prompts[..2].Select(p => p[..Math.Min(8, p.Length)]).ToArray(), 2); // warm-up
                var m = Best(() => Measure(engine, prompts, newTokens));
                baseline ??= m;
                results.Add((name, m));
                Console.WriteLine(string.Create(inv,
                    $"{name,-22} {m.Prefill,14:F1} {m.Prefill / baseline.Prefill,7:F2} {m.Decode,13:F1} {m.Decode / baseline.Decode,7:F2} " +
                    $"{m.ExpertsRunPerStep / facts.Layers,18:F2} {BytesPerToken(m, BatchSequences) / 1e6,14:F1}"));
            }
            finally
            {
                (engine as IDisposable)?.Dispose();
            }
        }

        Console.WriteLine();
        Console.WriteLine("ratios");
        Console.WriteLine(string.Create(inv, $"  sparse / dense   prefill tok/s {sparse.Prefill / dense.Prefill,6:F2}   decode tok/s {sparse.Decode / dense.Decode,6:F2}   " +
                                             $"weight bytes/decoded token {BytesPerToken(sparse, 1) / BytesPerToken(dense, 1),6:F2} " +
                                             $"(expert bytes only {sparse.ExpertsRunPerStep / dense.ExpertsRunPerStep,4:F2}; top-{facts.ExpertsPerToken} of {facts.Experts} = {(double)facts.ExpertsPerToken / facts.Experts:F2})"));
        if (baseline is not null)
            foreach (var (name, m) in results.Skip(1))
                Console.WriteLine(m is null
                    ? $"  {name + " / one device",-16} (not run)"
                    : string.Create(inv, $"  {name + " / one device",-16} prefill tok/s {m.Prefill / baseline.Prefill,6:F2}   decode tok/s {m.Decode / baseline.Decode,6:F2}   ({BatchSequences} sequences, {Environment.ProcessorCount} cores)"));
    }

    /// <summary>The fastest prefill and the fastest decode of <see cref="Repeats"/> runs (the routing is the same in each).</summary>
    private static Measurement Best(Func<Measurement> measure)
    {
        var runs = Enumerable.Range(0, Repeats).Select(_ => measure()).ToArray();
        return new Measurement(runs.Max(r => r.Prefill), runs.Max(r => r.Decode), runs.Average(r => r.ExpertsRunPerStep));
    }

    /// <summary>
    /// One batched prefill of <paramref name="prompts"/>, then <paramref name="steps"/> greedy decode steps of every
    /// sequence together (as <see cref="BatchedGeneration.Measure"/>), reading the engine's expert load between steps:
    /// the (layer, expert) pairs whose count moved during a step are the experts that step ran.
    /// </summary>
    private static Measurement Measure(ITransformerEngine engine, int[][] prompts, int steps)
    {
        var routed = engine as IExpertRouted;
        var caches = prompts.Select(_ => engine.CreateCache()).ToArray();
        var clock = Stopwatch.StartNew();
        float[] logits = engine.Forward(TokenBatch.ForSequences(caches, prompts, lastLogitsOnly: true));
        double prefill = prompts.Sum(p => p.Length) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        int vocab = engine.Shape.VocabSize;
        long expertsRun = 0;
        long[] before = Counts(routed);
        clock.Reset();
        for (int step = 0; step < steps; step++)
        {
            clock.Start();
            int[][] next = Enumerable.Range(0, prompts.Length).Select(s => new[] { GreedyDecoder.ArgMax(logits.AsSpan(s * vocab, vocab)) }).ToArray();
            logits = engine.Forward(TokenBatch.ForSequences(caches, next, lastLogitsOnly: true));
            clock.Stop(); // reading the load is not part of the step
            long[] after = Counts(routed);
            for (int i = 0; i < after.Length; i++)
                if (after[i] != before[i]) expertsRun++;
            before = after;
        }
        return new Measurement(prefill, prompts.Length * steps / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), steps == 0 ? 0 : (double)expertsRun / steps);
    }

    /// <summary>A copy of the routing counts so far, [layer * experts + expert]; empty for a dense engine.</summary>
    private static long[] Counts(IExpertRouted? routed)
    {
        if (routed is null) return [];
        var load = routed.ExpertLoad;
        var counts = new long[load.Layers * load.Experts];
        for (int l = 0; l < load.Layers; l++)
            for (int e = 0; e < load.Experts; e++) counts[l * load.Experts + e] = load[l, e];
        return counts;
    }
}
