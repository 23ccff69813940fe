using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes a module's weight class (a WeightMatrix per product and token embedding, a float[] per other tensor, with its
/// shape) and the code that loads this rank's share
/// of it: column-parallel weights load their rows, row-parallel ones their columns, everything else whole.
/// </summary>
internal static class WeightsWriter
{
    public static string ClassName(ModuleInfo module) => module.TypeName + "Weights";

    public static void WriteClass(ModuleInfo module, IndentedTextWriter writer)
    {
        writer.WriteLine($"/// <summary>The tensors of one {module.TypeName} on this rank, matrices as [out, in] (this rank's slice under tensor parallelism): products and token embeddings held as the rank asks (F32, BF16 or ggml blocks), the rest F32.</summary>");
        using (writer.WriteBlock($"private sealed class {ClassName(module)}"))
        {
            foreach (var w in module.Weights)
            {
                string sharding = w.Sharding switch
                {
                    Sharding.ColumnParallel => ", rows split across the tensor group",
                    Sharding.RowParallel => ", columns split across the tensor group",
                    _ => "",
                };
                string stored = w.Transposed ? " (stored [in, out], transposed on load)"
                    : w.FusedOut is not null ? $" (rows {w.FusedOffset} on of its {w.FusedOut})"
                    : w.Offset is not null ? $" (stored less the scale's {w.Offset.TrimEnd('f')}, added on load)"
                    : "";
                writer.WriteLine($"/// <remarks>{Shape(w)}{sharding}, from \"{w.TensorPrefix}.weight\"{stored}.</remarks>");
                writer.WriteLine($"public {FieldType(w)} {w.Name} = null!;");
                if (HasBias(w))
                {
                    writer.WriteLine($"/// <remarks>({(w.Kind == ModuleKind.Linear ? w.Out : w.In)}), from \"{w.TensorPrefix}.bias\".</remarks>");
                    writer.WriteLine($"public float[] {w.Name}Bias = null!;");
                }
            }
            if (module.Experts is { } experts)
            {
                writer.WriteLine($"/// <remarks>This rank's experts, from \"{experts.Prefix}.{{e}}.\": index e - FirstExpert (all of them unless the plan splits experts).</remarks>");
                writer.WriteLine($"public {experts.BlockType}Weights[] {experts.Name} = null!;");
            }
        }
    }

    /// <summary>Statements filling <paramref name="target"/> from <c>checkpoint</c>.</summary>
    /// <param name="prefix">the text before each tensor's name, with <c>{i}</c>-style holes for the layer or expert</param>
    /// <param name="constants">a specialised unit's config values, which decide a tied weight at build time; null when
    /// the engine reads them at load time</param>
    public static void WriteLoad(ModuleInfo module, CompiledModule compiled, IEnumerable<WeightFieldInfo> weights, string target,
        string prefix, IReadOnlyDictionary<string, object>? constants, IndentedTextWriter writer)
    {
        // A weight only some layers use (the dense MLP among sparse ones) loads in those layers only: consecutive
        // weights under one condition share its block.
        writer.WriteRunsIf(weights, w => compiled.WhenUsed(w)?.ToCSharp(), run =>
        {
            foreach (var w in run) WriteLoad(module, compiled, w, target, prefix, constants, writer);
        });
    }

    private static void WriteLoad(ModuleInfo module, CompiledModule compiled, WeightFieldInfo w, string target,
        string prefix, IReadOnlyDictionary<string, object>? constants, IndentedTextWriter writer)
    {
        var node = compiled.Graph.Nodes.FirstOrDefault(n => n.Module?.Name == w.Name);
        var slice = node is null ? WeightSlice.Whole : compiled.Sharding.SliceOf(node);
        int groups = node is null ? 1 : compiled.Sharding[node.Output].Groups;
        string? heads = slice == WeightSlice.HeadRows ? compiled.Sharding.HeadsOf(node!).ToString() : null;
        string load;
        if (w.Kind is ModuleKind.Linear or ModuleKind.Embedding)
        {
            // Matrix weights are held as the rank asks (F32, BF16, quantized, or as the checkpoint stores them), but a
            // router's stay F32: its top-k choice is discontinuous (a rounded logit can send a token elsewhere) and it
            // is small.
            // An embedding table is looked up, not multiplied: kept as stored or F32 (options.TablePrecision).
            bool router = node is not null && node.Output.Consumers.Any(c => c.Kind == OpKind.Route);
            string precision = router ? "global::Tessera.Cpu.WeightPrecision.F32"
                : w.Kind == ModuleKind.Embedding ? "options.TablePrecision" : "options.Precision";
            string shard = Shard(slice, groups, heads);
            load = LoadOwnOrTied(module, w, target, prefix, slice, constants,
                (name, shared) => $"checkpoint.LoadWeight({MatrixArgs(w, name)}, {shard}, {precision}{Fused(w)}{(shared is null ? "" : $", shared: {shared}")})");
        }
        else
        {
            load = LoadOwnOrTied(module, w, target, prefix, slice, constants, (name, shared) => shared is null
                ? Load(w, name)
                : $"({shared}) ?? {Load(w, name)}");
        }
        writer.WriteLine($"{target}.{w.Name} = {load};");
        if (HasBias(w)) writer.WriteLine($"{target}.{w.Name}Bias = {LoadBias(w, prefix, slice, groups, heads)};");
    }

    /// <summary>
    /// The load of a weight's own tensor, or for a tied weight (tie_word_embeddings) the other module's: its array when
    /// this rank holds it whole (<paramref name="load"/>'s second argument, null for none), else this module's own
    /// slice of that tensor. Whether a config flag ties them is decided here when the unit is specialised, so only the
    /// branch taken is written.
    /// </summary>
    /// <param name="load">the load expression of a tensor name (a C# literal) and the array it may share</param>
    private static string LoadOwnOrTied(ModuleInfo module, WeightFieldInfo w, string target, string prefix, WeightSlice slice,
        IReadOnlyDictionary<string, object>? constants, System.Func<string, string?, string> load)
    {
        string own = load(TensorName(prefix, w.TensorPrefix + ".weight"), null);
        if (w.TiedTo is null) return own;
        bool? tied = w.TiedWhen is null ? true : constants is not null && constants.TryGetValue(w.TiedWhen, out var flag) ? (bool)flag : null;
        if (tied == false) return own;
        var other = module.Weights.First(t => t.Name == w.TiedTo);
        string shared = slice == WeightSlice.Whole ? $"{target}.{w.TiedTo}" : $"TensorDegree == 1 ? {target}.{w.TiedTo} : null";
        string share = load(TensorName(prefix, other.TensorPrefix + ".weight"), shared);
        return tied == true ? share : $"{w.TiedWhen} ? {share} : {own}";
    }

    /// <summary>The WeightShard of a slice: which part of the matrix this rank loads.</summary>
    private static string Shard(WeightSlice slice, int groups, string? heads) => slice switch
    {
        WeightSlice.Rows => $"global::Tessera.Checkpoints.WeightShard.Rows({groups}, TensorRank, TensorDegree)",
        WeightSlice.Columns => "global::Tessera.Checkpoints.WeightShard.Columns(TensorRank, TensorDegree)",
        WeightSlice.HeadRows => $"global::Tessera.Checkpoints.WeightShard.HeadRows({heads}, TensorRank, TensorDegree)",
        WeightSlice.PaddedRows => "global::Tessera.Checkpoints.WeightShard.PaddedRows(TensorRank, TensorDegree)",
        _ => "global::Tessera.Checkpoints.WeightShard.Whole",
    };

    /// <summary>A matrix loader's leading arguments: name, shape, stored layout and the description for messages.</summary>
    private static string MatrixArgs(WeightFieldInfo w, string name) =>
        $"{name}, {w.Out}, {w.In}, global::Tessera.WeightLayout.{(w.Transposed ? "InOut" : "OutIn")}, $\"{w.Name}: Out = {w.Out} = {{{w.Out}}}, In = {w.In} = {{{w.In}}}\"";

    private static string LoadBias(WeightFieldInfo w, string prefix, WeightSlice slice, int groups, string? heads)
    {
        string length = w.Kind == ModuleKind.Linear ? w.Out! : w.In!;
        string what = $"$\"{w.Name} bias: ({length} = {{{length}}})\"";
        string name = TensorName(prefix, w.TensorPrefix + ".bias");
        string fused = Fused(w);
        return slice switch
        {
            WeightSlice.Rows => $"checkpoint.LoadVectorShard({name}, {length}, {what}, {groups}, TensorRank, TensorDegree{fused})",
            WeightSlice.HeadRows => $"checkpoint.LoadVectorHeadShard({name}, {length}, {what}, {heads}, TensorRank, TensorDegree{fused})",
            WeightSlice.PaddedRows => $"checkpoint.LoadVectorPaddedShard({name}, {length}, {what}, TensorRank, TensorDegree{fused})",
            _ => $"checkpoint.LoadVector({name}, {length}, {what}{fused})",
        };
    }

    /// <summary>A part of a fused tensor: the loaders' trailing argument saying where its rows sit (empty otherwise).</summary>
    private static string Fused(WeightFieldInfo w) =>
        w.FusedOut is null ? "" : $", fused: new global::Tessera.Checkpoints.FusedRows({w.FusedOffset}, {w.FusedOut})";

    /// <summary>A tensor's checkpoint name as one C# literal, interpolated when the prefix has a layer or expert hole.</summary>
    private static string TensorName(string prefix, string name) =>
        prefix.Contains("{") ? $"$\"{prefix}{name}\"" : $"\"{prefix}{name}\"";

    /// <summary>
    /// The load of a norm's vector or a position embedding's table: whole, as only products are split (Passes/Sharding.cs
    /// gives slices to Linear nodes alone; their loads are <c>LoadWeight</c>'s).
    /// </summary>
    /// <param name="name">the tensor's name, a C# string literal</param>
    private static string Load(WeightFieldInfo w, string name) => w.Kind is ModuleKind.RmsNorm or ModuleKind.LayerNorm
        ? $"checkpoint.LoadVector({name}, {w.In}, $\"{w.Name}: ({w.In} = {{{w.In}}})\"{(w.Offset is null ? "" : $", offset: {w.Offset}")})"
        : $"checkpoint.LoadMatrix({MatrixArgs(w, name)}{Fused(w)})";

    /// <summary>Products and token embeddings take a WeightMatrix (F32, BF16 or ggml blocks); position embeddings and norms stay float[].</summary>
    public static string FieldType(WeightFieldInfo w) => w.Kind is ModuleKind.Linear or ModuleKind.Embedding ? "global::Tessera.Cpu.WeightMatrix" : "float[]";

    /// <summary>Every array a module's weights hold, as C# expressions, for the memory accounting.</summary>
    public static IEnumerable<string> Arrays(ModuleInfo module, string target) =>
        module.Weights.SelectMany(w => HasBias(w) ? new[] { $"{target}.{w.Name}", $"{target}.{w.Name}Bias" } : new[] { $"{target}.{w.Name}" });

    /// <summary>Whether a weight comes with a bias vector (a biased Linear, every LayerNorm).</summary>
    public static bool HasBias(WeightFieldInfo w) => w.Bias || w.Kind == ModuleKind.LayerNorm;

    private static string Shape(WeightFieldInfo w) => w.Kind switch
    {
        ModuleKind.RmsNorm or ModuleKind.LayerNorm => $"({w.In})",
        _ => $"({w.Out}, {w.In})",
    };
}
