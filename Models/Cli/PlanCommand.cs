using System.Globalization;
using Tessera.Parallelism;
using Tessera.Planning;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera plan</c>: loads a plan's shards on CPU virtual devices, runs one sample forward and reports where
/// everything went (and, for a mixture of experts, how the routers spread the sample's tokens), as text or as JSON.
/// </summary>
internal static class PlanCommand
{
    /// <summary>
    /// <c>tessera plan --dry-run</c>: the plan's memory from config.json alone — no weights read, no device started, so it
    /// plans 64 GPUs as readily as 2 — as text or as JSON.
    /// </summary>
    public static int DryRun(string directory, ParallelPlan plan, PlanDType weights, PlanDType? kvCache, int batch, int? context, long? deviceMemory, bool json)
    {
        var facts = EngineCatalog.Facts(directory);
        // The budget (--gpu, else --device-memory) is reported against (fits or not), not refused: a dry run is how one finds out.
        deviceMemory ??= plan.DeviceMemoryBytes;
        var estimate = MemoryEstimate.Of(facts, plan with { DeviceMemoryBytes = null }, weights, kvCache ?? (weights is PlanDType.Q8_0 or PlanDType.Q4_0 ? PlanDType.F32 : weights), batch, context ?? facts.ContextLength, deviceMemory);
        Console.WriteLine(json ? estimate.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : estimate.ToText());
        return 0;
    }

    public static int Run(string directory, ParallelPlan plan, string? svgPath, bool json = false)
    {
        var facts = EngineCatalog.Facts(directory);
        plan.ThrowIfInvalid(facts);
        using var engine = (ParallelEngine)EngineCatalog.Open(directory, EngineKind.Generic, plan);

        // A sample forward: one sequence per micro-batch per replica and expert rank, so the trace shows the schedule
        // and every expert rank runs attention for a sequence of its own.
        int sequences = Math.Max(1, plan.MicroBatches) * plan.Data * plan.Expert;
        var random = new Random(1);
        int[][] prompts = Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, Math.Min(8, facts.ContextLength)).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        engine.Forward(TokenBatch.ForSequences(prompts.Select(_ => engine.CreateCache()).ToArray(), prompts));

        if (json)
        {
            var report = engine.ReportJson();
            report["sample"] = new System.Text.Json.Nodes.JsonObject { ["sequences"] = sequences, ["tokens_per_sequence"] = prompts[0].Length };
            Console.WriteLine(report.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            if (svgPath is not null) File.WriteAllText(svgPath, engine.Schedule.ToSvg(engine.LastTrace));
            return 0;
        }
        Console.WriteLine(engine.Report());
        if (facts.Experts > 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(the load is that of the sample forward: {sequences} random sequence(s) of {prompts[0].Length} tokens)"));
        if (svgPath is not null)
        {
            File.WriteAllText(svgPath, engine.Schedule.ToSvg(engine.LastTrace));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote the schedule timeline to {svgPath}"));
        }
        return 0;
    }
}
