using System;
using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.IR;
using Tessera.Planning;

namespace Tessera.Generator.Passes;

/// <summary>
/// The planner's view of a model with its sizes bound (the build-time twin of the runtime's ModelFacts): the shared
/// cost model (<see cref="ModelCost"/>, compiled into both) and what the plan checks need besides.
/// </summary>
/// <param name="Cost">sizes in parameters, stage costs and per-device memory, as at run time</param>
/// <param name="Splits">what the tensor degree must divide</param>
/// <param name="ReplicableSplits">what the tensor degree must divide or be a multiple of (key/value heads)</param>
/// <param name="ExpertCountField">the config field holding the experts, for messages</param>
internal sealed record BoundFacts(ModelCost Cost, IReadOnlyList<(string What, int Size)> Splits, IReadOnlyList<(string What, int Size)> ReplicableSplits, string ExpertCountField)
{
    public int Layers => Cost.Layers;

    public int Experts => Cost.Experts;

    public double Context => Cost.Context;

    public static BoundFacts Compute(CompiledModel compiled, IReadOnlyDictionary<string, double> sizes)
    {
        double Eval(SizeExpr expression) => expression.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0;
        double Flops(IEnumerable<WeightFieldInfo> modules) => 2 * modules.Where(m => m.Kind == ModuleKind.Linear).Sum(m => Eval(SizeExpr.Parse(m.Out!)) * Eval(SizeExpr.Parse(m.In!)));
        double Parameters(CompiledModule? module, IEnumerable<WeightFieldInfo> modules) => WeightShares.Of(module, modules).Sum(t => Eval(t.Parameters));
        double Whole(CompiledModule? module, IEnumerable<WeightFieldInfo> modules) => WeightShares.Of(module, modules).Where(t => t.Whole).Sum(t => Eval(t.Parameters));
        List<WeightFieldInfo> Modules(IEnumerable<Kernel> kernels) => kernels.SelectMany(k => k.Nodes).Select(n => n.Module).OfType<WeightFieldInfo>().Distinct().ToList();

        var block = compiled.Block?.Module.Weights.ToList() ?? new List<WeightFieldInfo>();
        var prologue = Modules(compiled.Root.Prologue);
        var epilogue = Modules(compiled.Root.Epilogue);
        // A mixture-of-experts layer runs k experts per token and holds all of them.
        var expert = compiled.Expert?.Module.Weights.ToList();
        double experts = expert is null ? 0 : Eval(SizeExpr.Parse(compiled.ExpertsField!.Count));
        double k = expert is null ? 0 : Eval(compiled.ExpertsPerToken!);
        double expertParameters = expert is null ? 0 : experts * Parameters(compiled.Expert, expert);
        int layerCount = compiled.Model.Root.Layers is { } layers ? (int)Eval(SizeExpr.Parse(layers.Count)) : 1;
        // Layers that differ (dense layers among sparse ones): each layer's weights are those it loads.
        LayerCost[]? byLayer = null;
        if (compiled.Block is { } compiledBlock && (block.Any(w => compiledBlock.WhenUsed(w) is { IsAlways: false }) || compiled.Mixture is { Predicate.IsAlways: false }))
        {
            byLayer = new LayerCost[layerCount];
            for (int layer = 0; layer < layerCount; layer++)
            {
                bool Runs(Predicate? p) => p is null || p.Holds(n => n == SizeExpr.LayerName ? layer : sizes.TryGetValue(n, out var v) ? v : null) != false;
                var loaded = block.Where(w => Runs(compiledBlock.WhenUsed(w))).ToList();
                bool routed = expert is not null && Runs(compiled.Mixture!.Predicate);
                double layerExperts = routed ? expertParameters : 0;
                byLayer[layer] = new LayerCost(Parameters(compiled.Block, loaded) + layerExperts, Whole(compiled.Block, loaded), layerExperts,
                    Flops(loaded) + (routed ? k * Flops(expert!) : 0));
            }
        }
        // A tied head is costed as its own tensor: the one-device saving is not taken at build time (bool sizes are not bound here).
        var cost = new ModelCost(
            layerCount,
            Parameters(compiled.Block, block) + expertParameters, Whole(compiled.Block, block), expertParameters, (int)experts, (int)k,
            Parameters(compiled.Root, prologue), Whole(compiled.Root, prologue), Parameters(compiled.Root, epilogue), Whole(compiled.Root, epilogue), 0,
            Flops(block) + (expert is null ? 0 : k * Flops(expert)), Flops(epilogue),
            2 * (compiled.KvWidth is { } kv ? Eval(kv) : 0), compiled.KvHeads is { } kvHeads ? (int)Eval(kvHeads) : 0,
            (int)Eval(compiled.Width), (int)Eval(compiled.Vocab), (int)Eval(SizeExpr.Parse(compiled.Model.ContextField)), byLayer);
        return new BoundFacts(cost,
            compiled.TensorSplits.Select(s => (s.Size.ToString(), (int)Eval(s.Size))).ToList(),
            compiled.TensorReplicableSplits.Select(s => (s.Size.ToString(), (int)Eval(s.Size))).ToList(),
            compiled.ExpertsField?.Count ?? "");
    }
}

/// <summary>
/// Cuts the layers into contiguous pipeline stages minimising the slowest stage, by the runtime's own cost model and
/// algorithm (<see cref="ModelCost.Balance"/>), so a [Compile] unit folds the split the command line would choose.
/// </summary>
internal static class StagePartitioning
{
    public static int[] Balance(BoundFacts facts, int stages) => facts.Cost.Balance(stages);
}
