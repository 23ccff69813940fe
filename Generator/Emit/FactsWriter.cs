using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes <c>Facts(config)</c>: the sizes and per-layer costs the planner checks and balances a plan with, computed
/// from the config alone, before any weight is read.
/// </summary>
internal static class FactsWriter
{
    public static void Write(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var model = context.Compiled.Model;
        writer.WriteLine("/// <summary>Sizes and costs of this model for a config, before loading: what plans are validated and balanced with.</summary>");
        using (writer.WriteBlock("public static global::Tessera.Parallelism.ModelFacts Facts(global::Tessera.Checkpoints.ModelConfig config)"))
        {
            context.Sizes.WriteBinding(model, writer, declareLocals: true);
            writer.WriteLine($"return new global::Tessera.Parallelism.ModelFacts(");
            writer.IncreaseIndent();
            writer.WriteLine($"\"{model.Type.Name}\",");
            writer.WriteLine($"Layers: {model.Root.Layers?.Count ?? "1"},");
            WriteCosts(context, writer);
            WriteWholeShares(context, writer);
            bool layersDiffer = LayersDiffer(context.Compiled);
            WriteTensorSplits(context, writer, close: layersDiffer ? ")" : ");");
            writer.DecreaseIndent();
            if (layersDiffer) WriteLayerKinds(context, writer);
        }
    }

    /// <summary>Whether some of a layer's weights (or its experts) are only in some layers: a Select between layer kinds.</summary>
    private static bool LayersDiffer(CompiledModel compiled) =>
        compiled.Block is { } block
        && (block.Module.Weights.Any(w => block.WhenUsed(w) is { IsAlways: false }) || compiled.Mixture is { Predicate.IsAlways: false });

    /// <summary>
    /// Each layer's figures, where layers differ: every weight counted in the layers that load it (the same condition
    /// as its load), the experts in the layers that route to them. The Layer* figures above become their averages.
    /// </summary>
    private static void WriteLayerKinds(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var block = compiled.Block!;
        // Terms grouped by when the layer has them: always, then one "(condition ? sum : 0)" per condition.
        string Sum(IEnumerable<(string? When, string Term)> terms, string zero)
        {
            var parts = terms.GroupBy(t => t.When).Select(g => g.Key is null
                ? string.Join(" + ", g.Select(t => t.Term))
                : $"({g.Key} ? {(g.Count() == 1 ? g.First().Term : "(" + string.Join(" + ", g.Select(t => t.Term)) + ")")} : {zero})").ToList();
            return parts.Count == 0 ? zero : string.Join(" + ", parts);
        }
        string? When(WeightFieldInfo w) => block.WhenUsed(w)?.ToCSharp();
        var weights = block.Module.Weights;
        var flops = weights.Where(w => w.Kind == ModuleKind.Linear).Select(w => (When(w), $"2.0 * (double)({w.Out}) * ({w.In})")).ToList();
        var bytes = weights.Select(w => (When(w), $"4L * {Parameters(w)}")).ToList();
        var whole = WeightShares.Of(block, weights).Zip(WeightShares.Weights(weights), (share, w) => (share, w))
            .Where(t => t.share.Whole).Select(t => (When(t.w), $"4L * {Long(t.share.Parameters)}")).ToList();
        var experts = new List<(string? When, string Term)>();
        if (compiled.Expert is { } expert)
        {
            string? routed = compiled.Mixture!.Predicate.ToCSharp();
            string count = compiled.ExpertsField!.Count, k = compiled.ExpertsPerToken!.ToString();
            experts.Add((routed, $"(long)({count}) * {Bytes(expert.Module.Weights)}"));
            flops.Add((routed, $"(double)({k}) * {Flops(expert.Module.Weights)}"));
            bytes.Add((routed, $"(long)({count}) * {Bytes(expert.Module.Weights)}"));
        }
        writer.WriteLine(".WithLayers(layer => new global::Tessera.Parallelism.LayerFacts(");
        writer.IncreaseIndent();
        writer.WriteLine($"FlopsPerToken: {Sum(flops, "0")},");
        writer.WriteLine($"WeightBytes: {Sum(bytes, "0L")},");
        writer.WriteLine($"WholeWeightBytes: {Sum(whole, "0L")},");
        writer.WriteLine($"ExpertWeightBytes: {Sum(experts, "0L")}));");
        writer.DecreaseIndent();
    }

    /// <summary>A weight's parameters (a bias included) as a long expression.</summary>
    private static string Parameters(WeightFieldInfo m)
    {
        var terms = ParameterTerms(m).ToList();
        return terms.Count == 1 ? terms[0] : $"({string.Join(" + ", terms)})";
    }

    /// <summary>The parts of a weight's parameter count: a norm's (a LayerNorm's scale and shift), a matrix's and its bias.</summary>
    private static IEnumerable<string> ParameterTerms(WeightFieldInfo m)
    {
        if (m.Kind is ModuleKind.RmsNorm or ModuleKind.LayerNorm)
        {
            yield return m.Kind == ModuleKind.LayerNorm ? $"2L * ({m.In})" : $"(long)({m.In})";
            yield break;
        }
        yield return $"(long)({m.Out}) * ({m.In})";
        if (m.Bias) yield return $"(long)({m.Out})";
    }

    /// <summary>FLOPs and F32 bytes of a layer, the embedding and the head; the sizes the planner balances with.</summary>
    private static void WriteCosts(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = compiled.Model;
        var blockLinears = compiled.Block?.Module.Weights ?? EquatableArray<WeightFieldInfo>.Empty;
        var prologue = Modules(compiled.Root.Prologue);
        var epilogue = Modules(compiled.Root.Epilogue);
        if (compiled.Expert is { } expert)
        {
            // A mixture-of-experts layer: every token runs through k experts, the layer holds all E of them.
            string count = compiled.ExpertsField!.Count, k = compiled.ExpertsPerToken!.ToString();
            writer.WriteLine($"LayerFlopsPerToken: {Flops(blockLinears)} + (double)({k}) * {Flops(expert.Module.Weights)},");
            writer.WriteLine($"LayerWeightBytes: {Bytes(blockLinears)} + (long)({count}) * {Bytes(expert.Module.Weights)},");
        }
        else
        {
            writer.WriteLine($"LayerFlopsPerToken: {Flops(blockLinears)},");
            writer.WriteLine($"LayerWeightBytes: {Bytes(blockLinears)},");
        }
        writer.WriteLine($"EmbeddingWeightBytes: {Bytes(prologue)},");
        writer.WriteLine($"HeadFlopsPerToken: {Flops(epilogue)},");
        writer.WriteLine($"HeadWeightBytes: {Bytes(epilogue)},");
        writer.WriteLine($"KvBytesPerTokenPerLayer: 2L * 4 * ({compiled.KvWidth?.ToString() ?? "0"}),");
        writer.WriteLine($"ActivationWidth: {compiled.Width},");
        writer.WriteLine($"VocabSize: {compiled.Vocab},");
        writer.WriteLine($"ContextLength: {model.ContextField},");
    }

    /// <summary>
    /// What every tensor rank holds whole (norms, replicated tensors, biases after an all-reduce), what of the head is
    /// the embedding's when they are tied, and the key/value heads: the cost model's per-device figures.
    /// </summary>
    private static void WriteWholeShares(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var blockLinears = compiled.Block?.Module.Weights ?? EquatableArray<WeightFieldInfo>.Empty;
        var prologue = Modules(compiled.Root.Prologue);
        var epilogue = Modules(compiled.Root.Epilogue);
        writer.WriteLine($"LayerWholeWeightBytes: {WholeBytes(compiled.Block, blockLinears)},");
        writer.WriteLine($"EmbeddingWholeWeightBytes: {WholeBytes(compiled.Root, prologue)},");
        writer.WriteLine($"HeadWholeWeightBytes: {WholeBytes(compiled.Root, epilogue)},");
        writer.WriteLine($"TiedHeadWeightBytes: {TiedBytes(epilogue, context.Sizes.Constants)},");
        writer.WriteLine($"KvHeads: {compiled.KvHeads?.ToString() ?? "0"},");
    }

    /// <summary>
    /// What tensor parallelism splits (Out of a column-parallel product, In of a row-parallel one, heads), the key/value
    /// heads it may replicate instead (the degree divides them or is a multiple of them), and the experts; the last
    /// argument closes the call.
    /// </summary>
    private static void WriteTensorSplits(EngineWriter.EngineContext context, IndentedTextWriter writer, string close)
    {
        var compiled = context.Compiled;
        var optional = new List<string>();
        var replicable = compiled.TensorReplicableSplits.Select(s => $"(\"{s.Size}\", {s.Size})").ToList();
        if (replicable.Count > 0) optional.Add($"ReplicableTensorSplits: [{string.Join(", ", replicable)}]");
        if (compiled.Expert is { } moe)
        {
            string count = compiled.ExpertsField!.Count;
            optional.Add($"Experts: {count}");
            optional.Add($"ExpertsPerToken: {compiled.ExpertsPerToken}");
            optional.Add($"LayerExpertWeightBytes: (long)({count}) * {Bytes(moe.Module.Weights)}");
        }
        var splits = compiled.TensorSplits.Select(s => $"(\"{s.Size}\", {s.Size})").ToList();
        writer.WriteLine((splits.Count == 0 ? "TensorSplits: []" : $"TensorSplits: [{string.Join(", ", splits)}]") + (optional.Count == 0 ? close : ","));
        for (int i = 0; i < optional.Count; i++)
            writer.WriteLine(optional[i] + (i == optional.Count - 1 ? close : ","));
    }

    private static List<WeightFieldInfo> Modules(IEnumerable<Kernel> kernels) =>
        kernels.SelectMany(k => k.Nodes).Select(n => n.Module).OfType<WeightFieldInfo>().Distinct().ToList();

    /// <summary>F32 bytes of the tensors every tensor rank holds whole.</summary>
    private static string WholeBytes(CompiledModule? module, IEnumerable<WeightFieldInfo> modules)
    {
        var terms = WeightShares.Of(module, modules).Where(t => t.Whole).Select(t => Long(t.Parameters)).ToList();
        return terms.Count == 0 ? "0L" : $"4L * ({string.Join(" + ", terms)})";
    }

    /// <summary>
    /// F32 bytes of a head matrix that is the embedding's when the weights are tied (a config flag, or always); a
    /// specialised unit knows the flag, so it writes the bytes or 0L.
    /// </summary>
    private static string TiedBytes(IEnumerable<WeightFieldInfo> modules, IReadOnlyDictionary<string, object>? constants)
    {
        var tied = modules.FirstOrDefault(m => m.Kind == ModuleKind.Linear && m.TiedTo is not null);
        if (tied is null) return "0L";
        string bytes = $"4L * (long)({tied.Out}) * ({tied.In})";
        if (tied.TiedWhen is null) return bytes;
        if (constants is not null && constants.TryGetValue(tied.TiedWhen, out var flag)) return (bool)flag ? bytes : "0L";
        return $"{tied.TiedWhen} ? {bytes} : 0L";
    }

    /// <summary>(long)(a) * (b) ... of a product, so large checkpoints do not overflow int arithmetic.</summary>
    private static string Long(SizeExpr parameters) =>
        parameters is SizeExpr.Binary { Operator: '*' } product ? $"(long)({product.Left}) * ({product.Right})" : $"(long)({parameters})";

    /// <summary>2 x multiply-adds of the matrix products, per token.</summary>
    private static string Flops(IEnumerable<WeightFieldInfo> modules)
    {
        var terms = modules.Where(m => m.Kind == ModuleKind.Linear).Select(m => $"(double)({m.Out}) * ({m.In})").ToList();
        return terms.Count == 0 ? "0" : $"2.0 * ({string.Join(" + ", terms)})";
    }

    /// <summary>F32 bytes of the weights (matrices, biases, norms).</summary>
    private static string Bytes(IEnumerable<WeightFieldInfo> modules)
    {
        var terms = modules.SelectMany(ParameterTerms).ToList();
        return terms.Count == 0 ? "0L" : $"4L * ({string.Join(" + ", terms)})";
    }
}
