using System.Globalization;
using Tessera.Checkpoints;
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
    /// <param name="weights">--weights; null: as the checkpoint stores them (a GGUF file's own types, a folder's F32)</param>
    public static int DryRun(string directory, ParallelPlan plan, PlanDType? weights, PlanDType? kvCache, int batch, int? context, long? deviceMemory, bool json)
    {
        var facts = EngineCatalog.Facts(directory);
        // The budget (--gpu, else --device-memory) is reported against (fits or not), not refused: a dry run is how one finds out.
        deviceMemory ??= plan.DeviceMemoryBytes;
        var priced = weights is { } dtype ? dtype : StoredWeights(directory);
        // The engines hold a KV cache in F32; with weights in half precision a GPU would hold it so too.
        var kv = kvCache ?? (weights is { } w && !w.IsQuantized() ? w : PlanDType.F32);
        var estimate = MemoryEstimate.Of(facts, plan with { DeviceMemoryBytes = null }, priced, kv, batch, context ?? facts.ContextLength, deviceMemory);
        Console.WriteLine(json ? estimate.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) : estimate.ToText());
        return 0;
    }

    /// <summary>
    /// How a checkpoint's weights are held when --weights is not given: a GGUF file's own types, priced by the bytes its
    /// tensors take (blocks and scales); a safetensors folder's as F32, as the engines load it.
    /// </summary>
    public static WeightFormat StoredWeights(string checkpoint)
    {
        if (!File.Exists(checkpoint)) return PlanDType.F32;
        using var file = Tessera.Checkpoints.GgufFile.Open(checkpoint);
        long bytes = 0, values = 0;
        foreach (var tensor in file.Tensors.Values)
        {
            bytes += tensor.Bytes;
            values += tensor.Dimensions.Aggregate(1L, (a, b) => a * b);
        }
        return WeightFormat.Stored("GGUF", bytes, values);
    }

    public static int Run(string directory, ParallelPlan plan, string? svgPath, bool json = false)
    {
        if (svgPath is not null) OutputFile.Check(svgPath);
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
            if (svgPath is not null) OutputFile.WriteText(svgPath, engine.Schedule.ToSvg(engine.LastTrace));
            return 0;
        }
        Console.WriteLine(engine.Report());
        if (facts.Experts > 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(the load is that of the sample forward: {sequences} random sequence(s) of {prompts[0].Length} tokens)"));
        if (svgPath is not null)
        {
            OutputFile.WriteText(svgPath, engine.Schedule.ToSvg(engine.LastTrace));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote the schedule timeline to {svgPath}"));
        }
        return 0;
    }
}
