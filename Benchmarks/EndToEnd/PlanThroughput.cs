using System.Globalization;
using Tessera.Models;
using Tessera.Parallelism;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Tokens/s of every parallel plan on CPU virtual devices against one device, measured in one run on the same batch:
/// a prefill of several sequences, then decode steps for all of them together. On a machine with C cores a plan of
/// more than C devices time-shares the cores, so the ratios show the cost of the plan's communication and bubble.
/// </summary>
public static class PlanThroughput
{
    public static void Run(string[] args)
    {
        string directory = args.Length > 0 && args[0] != "medium" ? (Directory.Exists(args[0]) ? args[0] : EngineCatalog.Bundled(args[0])) : RandomLlamaCheckpoint.Medium();
        int sequences = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
        int promptLength = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        int steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 16;
        var facts = EngineCatalog.Facts(directory);
        promptLength = Math.Min(promptLength, facts.ContextLength - steps);

        var plans = new (string Name, ParallelPlan? Plan)[]
        {
            ("single device", null),
            ("dp2", new ParallelPlan(Data: 2)),
            ("mp2 (pp2, m=1)", new ParallelPlan(Pipeline: 2)),
            ("pp2, m=4", new ParallelPlan(Pipeline: 2, MicroBatches: 4)),
            ("tp2", new ParallelPlan(Tensor: 2)),
            ("tp2 x pp2, m=4", new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 4)),
            ("dp2 x tp2 x pp2, m=2", new ParallelPlan(Data: 2, Tensor: 2, Pipeline: 2, MicroBatches: 2)),
        };

        var random = new Random(11);
        int[][] prompts = Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, promptLength).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{facts.ModelName} ({directory}), {sequences} sequences x {promptLength} prompt tokens, then {steps} decode steps; {Environment.ProcessorCount} cores"));
        Console.WriteLine($"{"plan",-24} {"prefill tok/s",14} {"ratio",7} {"decode tok/s",13} {"ratio",7}");

        double basePrefill = 0, baseDecode = 0;
        foreach (var (name, plan) in plans)
        {
            if (plan is not null && plan.Validate(facts).Count > 0) { Console.WriteLine($"{name,-24} (not valid for this model)"); continue; }
            var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan);
            try
            {
                BatchedGeneration.Measure(engine, prompts[..Math.Min(2, sequences)].Select(p => p[..Math.Min(8, p.Length)]).ToArray(), 2); // warm-up
                var (prefill, decode) = BatchedGeneration.Measure(engine, prompts, steps);
                if (plan is null) (basePrefill, baseDecode) = (prefill, decode);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-24} {prefill,14:F1} {prefill / basePrefill,7:F2} {decode,13:F1} {decode / baseDecode,7:F2}"));
            }
            finally
            {
                (engine as IDisposable)?.Dispose();
            }
        }
    }
}
