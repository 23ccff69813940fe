using System;
using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>The planner's view of a model with its sizes bound (the build-time twin of the runtime's ModelFacts).</summary>
/// <param name="Layers">L</param>
/// <param name="LayerFlops">FLOPs per token of one layer's matrix products</param>
/// <param name="LayerBytes">F32 bytes of one layer's weights</param>
/// <param name="EmbeddingBytes">the first stage's extra weights</param>
/// <param name="HeadFlops">the last stage's extra FLOPs per token</param>
/// <param name="HeadBytes">the last stage's extra weights</param>
/// <param name="KvBytesPerTokenPerLayer">keys and values of one token in one layer</param>
/// <param name="Context">the context length</param>
/// <param name="Splits">what the tensor degree must divide</param>
/// <param name="Experts">experts per layer (0: dense), with the config field that holds the count</param>
/// <param name="LayerExpertBytes">the experts' share of <paramref name="LayerBytes"/></param>
/// <param name="ReplicableSplits">what the tensor degree must divide or be a multiple of (key/value heads)</param>
internal sealed record BoundFacts(int Layers, double LayerFlops, double LayerBytes, double EmbeddingBytes, double HeadFlops, double HeadBytes,
    double KvBytesPerTokenPerLayer, double Context, IReadOnlyList<(string What, int Size)> Splits, int Experts = 0, string ExpertCountField = "", double LayerExpertBytes = 0,
    IReadOnlyList<(string What, int Size)>? ReplicableSplits = null)
{
    public static BoundFacts Compute(CompiledModel compiled, IReadOnlyDictionary<string, double> sizes)
    {
        double Eval(string expression) => SizeExpr.Parse(expression).Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0;
        double Flops(IEnumerable<WeightFieldInfo> modules) => 2 * modules.Where(m => m.Kind == ModuleKind.Linear).Sum(m => Eval(m.Out!) * Eval(m.In!));
        double Bytes(IEnumerable<WeightFieldInfo> modules) => 4 * modules.Sum(m => m.Kind switch
        {
            ModuleKind.RmsNorm => Eval(m.In!),
            ModuleKind.LayerNorm => 2 * Eval(m.In!),
            _ => Eval(m.Out!) * Eval(m.In!) + (m.Bias ? Eval(m.Out!) : 0),
        });
        List<WeightFieldInfo> Modules(IEnumerable<Kernel> kernels) => kernels.SelectMany(k => k.Nodes).Select(n => n.Module).OfType<WeightFieldInfo>().Distinct().ToList();

        var block = compiled.Block?.Module.Weights.ToList() ?? new List<WeightFieldInfo>();
        var epilogue = Modules(compiled.Root.Epilogue);
        double kv = compiled.KvWidth?.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0;
        // A mixture-of-experts layer runs k experts per token and holds all of them.
        var expert = compiled.Expert?.Module.Weights.ToList();
        double experts = expert is null ? 0 : Eval(compiled.ExpertsField!.Count);
        double k = expert is null ? 0 : compiled.ExpertsPerToken!.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0;
        double expertBytes = expert is null ? 0 : experts * Bytes(expert);
        return new BoundFacts(
            compiled.Model.Root.Layers is { } layers ? (int)Eval(layers.Count) : 1,
            Flops(block) + (expert is null ? 0 : k * Flops(expert)), Bytes(block) + expertBytes, Bytes(Modules(compiled.Root.Prologue)), Flops(epilogue), Bytes(epilogue),
            2 * 4 * kv, Eval(compiled.Model.ContextField),
            compiled.TensorSplits.Select(s => (s.Size.ToString(), (int)(s.Size.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0))).ToList(),
            (int)experts, compiled.ExpertsField?.Count ?? "", expertBytes,
            compiled.TensorReplicableSplits.Select(s => (s.Size.ToString(), (int)(s.Size.Evaluate(n => sizes.TryGetValue(n, out var v) ? v : null) ?? 0))).ToList());
    }
}

/// <summary>
/// Cuts the layers into contiguous pipeline stages minimising the slowest stage, by the same cost model as the
/// runtime's StagePartitioner (so a [Compile] unit folds the split the command line would choose): seconds =
/// FLOPs / 100e9 + bytes / 50e9, embeddings on the first stage, the head on the last.
/// </summary>
internal static class StagePartitioning
{
    private const double FlopsPerSecond = 100e9;
    private const double BytesPerSecond = 50e9;

    private static double StageSeconds(BoundFacts facts, int first, int end)
    {
        double cost = (end - first) * (facts.LayerFlops / FlopsPerSecond + facts.LayerBytes / BytesPerSecond);
        if (first == 0) cost += facts.EmbeddingBytes / BytesPerSecond;
        if (end == facts.Layers) cost += facts.HeadFlops / FlopsPerSecond + facts.HeadBytes / BytesPerSecond;
        return cost;
    }

    /// <summary>Minimises the slowest stage with the runtime's own algorithm (the source file is shared).</summary>
    public static int[] Balance(BoundFacts facts, int stages) =>
        Tessera.Parallelism.ContiguousPartition.Balance(facts.Layers, stages, (first, end) => StageSeconds(facts, first, end));
}
