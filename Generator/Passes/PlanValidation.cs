using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.Emit;
using Tessera.Generator.FrontEnd;

namespace Tessera.Generator.Passes;

/// <summary>
/// Checks a [Compile] unit's plan against its model and config at build time, with the runtime's rules (the same
/// checks run, as exceptions, when the command line is given a plan), and folds its layer split.
/// </summary>
internal static class PlanValidation
{
    public static FoldedPlan? Validate(PlanInfo plan, BoundFacts facts, string modelName, List<DiagnosticInfo> diagnostics)
    {
        int errors = diagnostics.Count;
        foreach (var (name, value) in new[] { ("Data", plan.Data), ("Pipeline", plan.Pipeline), ("Tensor", plan.Tensor), ("Expert", plan.Expert), ("Sequence", plan.Sequence), ("MicroBatches", plan.MicroBatches) })
            if (value < 1)
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDegree, plan.LocationOf(name), name, Show(value), "a plan degree must be at least 1"));
        if (diagnostics.Count > errors) return null;

        if (plan.Pipeline > facts.Layers)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.MoreStagesThanLayers, plan.LocationOf("Pipeline"), Show(plan.Pipeline), modelName, Show(facts.Layers)));

        if (plan.Expert > 1 && facts.Experts == 0)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDegree, plan.LocationOf("Expert"), "Expert", Show(plan.Expert),
                $"'{modelName}' has no [Experts] to split: expert parallelism splits the experts of mixture-of-experts layers"));
        else if (facts.Experts > 0 && facts.Experts % plan.Expert != 0)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ExpertDegreeDoesNotDivide, plan.LocationOf("Expert"), Show(plan.Expert), Show(facts.Experts), modelName,
                $"{facts.ExpertCountField} = {Show(facts.Experts)}", string.Join(", ", Enumerable.Range(1, facts.Experts).Where(d => facts.Experts % d == 0).Select(Show))));

        var replicable = facts.ReplicableSplits ?? new List<(string What, int Size)>();
        var bad = facts.Splits.Where(s => s.Size % plan.Tensor != 0).Select(s => $"{s.What} = {Show(s.Size)}")
            .Concat(replicable.Where(s => !Tessera.Parallelism.PlanArithmetic.Works(s.Size, plan.Tensor)).Select(s => $"{s.What} = {Show(s.Size)} (nor is it a multiple of them)"))
            .ToList();
        if (bad.Count > 0)
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.TensorDegreeDoesNotDivide, plan.LocationOf("Tensor"), Show(plan.Tensor),
                string.Join(", ", bad), string.Join(", ", Tessera.Parallelism.PlanArithmetic.WorkingTensorDegrees(facts.Splits.Select(s => s.Size), replicable.Select(s => s.Size)))));

        int[]? split = null;
        if (plan.LayersPerStage is { } text)
        {
            split = ParseSplit(text, out string? problem);
            if (split is not null && problem is null)
            {
                if (split.Length != plan.Pipeline) problem = $"has {split.Length} entries but Pipeline = {plan.Pipeline}";
                else if (split.Any(n => n < 1)) problem = "gives a stage no layer";
                else if (split.Sum() != facts.Layers) problem = $"covers {split.Sum()} layers but '{modelName}' has {facts.Layers}";
            }
            if (problem is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidLayerSplit, plan.LocationOf("LayersPerStage"), text, problem));
                split = null;
            }
        }
        if (diagnostics.Count > errors) return null;
        split ??= plan.Pipeline <= facts.Layers ? StagePartitioning.Balance(facts, plan.Pipeline) : null;
        if (split is null) return null;

        if (plan.DeviceMemory is { } memory)
        {
            if (!Tessera.Parallelism.PlanArithmetic.TryParseBytes(memory, out long budget) || budget <= 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidDegree, plan.LocationOf("DeviceMemory"), "DeviceMemory", "\"" + memory + "\"", "write a size such as 80GB or 512MiB"));
                return null;
            }
            int firstLayer = 0;
            for (int stage = 0; stage < split.Length; stage++)
            {
                // The runtime's numbers (Runtime/Planning/ModelCost.cs): F32 weights and cache, one full-context sequence.
                int endLayer = firstLayer + split[stage];
                double weights = 4 * facts.Cost.DeviceParameters(firstLayer, endLayer, stage == 0, stage == split.Length - 1, plan.Tensor, plan.Expert);
                firstLayer = endLayer;
                double kv = facts.Cost.DeviceKvBytes(split[stage], facts.Context, plan.Tensor, plan.Sequence, 4);
                if (weights + kv > budget)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DeviceMemoryExceeded, plan.LocationOf("DeviceMemory"), Format(weights + kv), memory,
                        $"the devices of stage {stage} ({split[stage]} layers{(plan.Tensor > 1 ? $", 1/{plan.Tensor} of each" : "")}) hold {Format(weights)} of weights and {Format(kv)} of KV cache for one {Show((int)facts.Context)}-token sequence"));
                    return null;
                }
            }
        }
        return new FoldedPlan(plan.Data, plan.Pipeline, plan.Tensor, plan.MicroBatches, split, plan.Expert, plan.Sequence);
    }

    private static int[]? ParseSplit(string text, out string? problem)
    {
        var parts = text.Split(',');
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]))
            {
                problem = $"has '{parts[i].Trim()}', which is not a layer count";
                return null;
            }
        }
        problem = null;
        return result;
    }

    private static string Format(double bytes) =>
        bytes >= 1e9 ? (bytes / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + " GB"
        : bytes >= 1e6 ? (bytes / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + " MB"
        : bytes >= 1e3 ? (bytes / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + " KB"
        : bytes.ToString("0", CultureInfo.InvariantCulture) + " B";

    private static string Show(int value) => value.ToString(CultureInfo.InvariantCulture);
}
