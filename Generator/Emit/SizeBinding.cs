using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;

namespace Tessera.Generator.Emit;

/// <summary>
/// How an engine knows its sizes: read from config.json when it loads (shape-generic), or folded as constants at build
/// time (a [Compile] unit, which still checks that the checkpoint it loads was made with the same config).
/// Kernels name sizes the same way in both, so one emitted body serves both engines. Per-layer fields are arrays
/// (one value per layer); a RoPE scaling is a <c>Tessera.RopeScaling</c>.
/// </summary>
internal sealed class SizeBinding
{
    private SizeBinding(IReadOnlyDictionary<string, object>? constants) => Constants = constants;

    /// <summary>
    /// Bound values of a specialised unit (double or bool; per layer, double[] or bool[]; a RoPE scaling, the JSON of a
    /// config holding it); null for the shape-generic engine.
    /// </summary>
    public IReadOnlyDictionary<string, object>? Constants { get; }

    public bool IsSpecialised => Constants is not null;

    public static SizeBinding Generic { get; } = new(null);

    public static SizeBinding Specialised(IReadOnlyDictionary<string, object> constants) => new(constants);

    /// <summary>
    /// Config fields in an order where a default only names fields bound before it; a per-layer field comes after the
    /// layer count (<paramref name="layerCount"/>), which sizes it.
    /// </summary>
    public static List<ConfigFieldInfo> InDependencyOrder(IEnumerable<ConfigFieldInfo> fields, string? layerCount)
    {
        var pending = fields.ToList();
        var ordered = new List<ConfigFieldInfo>();
        var bound = new HashSet<string>();
        IEnumerable<string> Needs(ConfigFieldInfo f)
        {
            var names = new List<string>();
            foreach (var text in new[] { f.Default, f.WhenNull })
                if (text is not null && !(f.Kind == ConfigKind.Bool && !f.PerLayer))
                    names.AddRange(SizeExpr.Parse(text).Names());
            if (f.PerLayer && layerCount is not null) names.Add(layerCount);
            return names.Where(n => n != SizeExpr.LayerName);
        }
        while (pending.Count > 0)
        {
            var next = pending.FirstOrDefault(f => Needs(f).All(bound.Contains)) ?? pending[0];
            pending.Remove(next);
            ordered.Add(next);
            bound.Add(next.Name);
        }
        return ordered;
    }

    public void WriteDeclarations(ModelInfo model, IndentedTextWriter writer)
    {
        writer.WriteLine(IsSpecialised
            ? "// Sizes, folded from the config at build time: every kernel below sees constants."
            : "// Sizes, bound from config.json when the engine loads.");
        foreach (var field in model.Config)
        {
            string type = TypeOf(field);
            string keys = field.Keys.Replace("|", "\" | \"");
            string comment = $" // \"{keys}\"" + (field.PerLayer ? ", per layer" : "") + (field.Default is null ? "" : $", default {field.Default}")
                             + (field.WhenNull is null ? "" : $", {field.WhenNull} when null");
            if (Constants is null)
                writer.WriteLine($"private readonly {type} {field.Name};{comment}");
            else if (field.PerLayer || field.Kind == ConfigKind.RopeScaling)
                writer.WriteLine($"private static readonly {type} {field.Name} = {Literal(field, Constants[field.Name])};{comment}");
            else
                writer.WriteLine($"private const {type} {field.Name} = {Literal(field.Kind, Constants[field.Name])};{comment}");
        }
    }

    /// <summary>
    /// Statements that bind (generic) or verify (specialised) every config field: into the engine's fields, or into
    /// locals of the same names (<paramref name="declareLocals"/>, for static code). Specialised locals are the constants.
    /// </summary>
    public void WriteBinding(ModelInfo model, IndentedTextWriter writer, bool declareLocals)
    {
        if (declareLocals && Constants is not null)
        {
            writer.WriteLine("_ = config; // a specialised unit's sizes are its constants");
            return;
        }
        string? layerCount = model.Root.Layers?.Count;
        foreach (var field in InDependencyOrder(model.Config, layerCount))
        {
            string target = (declareLocals ? TypeOf(field) + " " : "") + field.Name;
            if (field.Kind == ConfigKind.RopeScaling)
            {
                writer.WriteLine(Constants is not null
                    ? $"config.ExpectRopeScaling(\"{field.Keys}\", nameof({field.Name}), {field.Name});"
                    : $"{target} = config.GetRopeScaling(\"{field.Keys}\", nameof({field.Name}));");
                continue;
            }
            if (field.PerLayer)
            {
                string type = TypeOf(field.Kind);
                string fallback = field.Default is null ? "null" : $"layer => {DefaultExpression(field, field.Default)}";
                string options = (field.Map is null ? "" : $", map: \"{field.Map}\"") + (field.Indices ? ", indices: true" : "");
                writer.WriteLine(Constants is not null
                    ? $"config.ExpectLayerValues<{type}>(\"{field.Keys}\", nameof({field.Name}), {field.Name}, {fallback}{options});"
                    : $"{target} = config.GetLayerValues<{type}>(\"{field.Keys}\", nameof({field.Name}), {layerCount}, {fallback}{options});");
                continue;
            }
            string method = field.Kind switch { ConfigKind.Int => "Int", ConfigKind.Float => "Float", _ => "Bool" };
            string defaults = field.Default is null ? "" : $", fallback: {DefaultExpression(field, field.Default)}";
            if (Constants is null && field.IsSize && field.Default is not null)
            {
                // A default computed from other sizes (4 * Dim, Dim / Heads) must not wrap around, nor truncate.
                defaults = $", fallback: {DerivedSizeChecks.Fallback(model, SizeExpr.Parse(field.Default))}";
                DerivedSizeChecks.WriteExactQuotient(model, field, writer);
            }
            if (field.WhenNull is not null) defaults += $", whenNull: {DefaultExpression(field, field.WhenNull)}";
            if (Constants is not null)
            {
                writer.WriteLine($"config.Expect{method}(\"{field.Keys}\", nameof({field.Name}), {field.Name}{defaults});");
                continue;
            }
            string read = $"config.Get{method}(\"{field.Keys}\", nameof({field.Name}){defaults})";
            string check = field.IsSize || field.Positive ? "Positive" : field.NonNegative ? "NonNegative" : null!;
            writer.WriteLine(check is null
                ? $"{target} = {read};"
                : $"{target} = config.{check}({read}, \"{field.Keys}\", nameof({field.Name}));");
        }
    }

    /// <summary>A default (or null value) as C# of the field's type; a per-layer one over <c>layer</c>.</summary>
    private static string DefaultExpression(ConfigFieldInfo field, string text) => field.Kind switch
    {
        ConfigKind.Bool when !field.PerLayer => text == "true" ? "true" : "false",
        ConfigKind.Float => SizeExpr.Parse(text) is SizeExpr.Number n ? n.ToString().TrimEnd('f') + "f" : $"(float)({SizeExpr.Parse(text)})",
        _ => SizeExpr.Parse(text).ToString(),
    };

    /// <summary>The C# type of a field's values (one per layer: an array).</summary>
    public static string TypeOf(ConfigFieldInfo field) => TypeOf(field.Kind) + (field.PerLayer ? "[]" : "");

    public static string TypeOf(ConfigKind kind) => kind switch
    {
        ConfigKind.Int => "int",
        ConfigKind.Float => "float",
        ConfigKind.RopeScaling => "global::Tessera.RopeScaling",
        _ => "bool",
    };

    public static string Literal(ConfigKind kind, object value) => kind switch
    {
        ConfigKind.Bool => value is true ? "true" : "false",
        ConfigKind.Float => ((float)(double)value).ToString("R", CultureInfo.InvariantCulture) + "f",
        _ => ((int)(double)value).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>A per-layer field's array, or a RoPE scaling read from the JSON it was bound from, as a C# initialiser.</summary>
    private static string Literal(ConfigFieldInfo field, object value)
    {
        if (field.Kind == ConfigKind.RopeScaling)
        {
            string json = ((string)value).Replace("\\", "\\\\").Replace("\"", "\\\"");
            return $"global::Tessera.Checkpoints.ModelConfig.Parse(\"{json}\").GetRopeScaling(\"{field.Keys}\", nameof({field.Name}))";
        }
        return "[" + string.Join(", ", ((object[])value).Select(v => Literal(field.Kind, v))) + "]";
    }
}
