using System.Globalization;
using Tessera.Parallelism;

namespace Tessera.Models.Cli;

/// <summary><c>tessera plan</c>: loads a plan's shards on CPU virtual devices, runs one sample forward and reports where everything went.</summary>
internal static class PlanCommand
{
    public static int Run(string directory, ParallelPlan plan, string? svgPath)
    {
        var facts = EngineCatalog.Facts(directory);
        plan.ThrowIfInvalid(facts);
        using var engine = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, plan);

        // A sample forward: one sequence per micro-batch per replica, so the trace shows the schedule.
        int sequences = Math.Max(1, plan.MicroBatches) * plan.Data;
        var random = new Random(1);
        int[][] prompts = Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, Math.Min(8, facts.ContextLength)).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        engine.Forward(TokenBatch.ForSequences(prompts.Select(_ => engine.CreateCache()).ToArray(), prompts));

        Console.WriteLine(engine.Report());
        if (svgPath is not null)
        {
            File.WriteAllText(svgPath, engine.Schedule.ToSvg(engine.LastTrace));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote the schedule timeline to {svgPath}"));
        }
        return 0;
    }
}
