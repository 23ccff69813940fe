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
/// Kernels name sizes the same way in both, so one emitted body serves both engines.
/// </summary>
internal sealed class SizeBinding
{
    private SizeBinding(IReadOnlyDictionary<string, object>? constants) => Constants = constants;

    /// <summary>Bound values of a specialised unit; null for the shape-generic engine.</summary>
    public IReadOnlyDictionary<string, object>? Constants { get; }

    public bool IsSpecialised => Constants is not null;

    public static SizeBinding Generic { get; } = new(null);

    public static SizeBinding Specialised(IReadOnlyDictionary<string, object> constants) => new(constants);

    /// <summary>Config fields in an order where a default only names fields bound before it.</summary>
    public static List<ConfigFieldInfo> InDependencyOrder(IEnumerable<ConfigFieldInfo> fields)
    {
        var pending = fields.ToList();
        var ordered = new List<ConfigFieldInfo>();
        var bound = new HashSet<string>();
        while (pending.Count > 0)
        {
            var next = pending.FirstOrDefault(f => f.Default is null || f.Kind == ConfigKind.Bool
                || SizeExpr.Parse(f.Default).Names().All(bound.Contains)) ?? pending[0];
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
            string type = TypeOf(field.Kind);
            string keys = field.Keys.Replace("|", "\" | \"");
            string comment = $" // \"{keys}\"" + (field.Default is null ? "" : $", default {field.Default}");
            if (Constants is not null)
                writer.WriteLine($"private const {type} {field.Name} = {Literal(field.Kind, Constants[field.Name])};{comment}");
            else
                writer.WriteLine($"private readonly {type} {field.Name};{comment}");
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
        foreach (var field in InDependencyOrder(model.Config))
        {
            string method = field.Kind switch { ConfigKind.Int => "Int", ConfigKind.Float => "Float", _ => "Bool" };
            string fallback = field.Default is null ? "" : $", fallback: {DefaultExpression(field)}";
            if (Constants is null && field.Kind == ConfigKind.Int && field.Default is not null)
            {
                // A default computed from other sizes (4 * Dim, Dim / Heads) must not wrap around, nor truncate.
                fallback = $", fallback: {DerivedSizeChecks.Fallback(model, SizeExpr.Parse(field.Default))}";
                DerivedSizeChecks.WriteExactQuotient(model, field, writer);
            }
            if (Constants is not null)
            {
                writer.WriteLine($"config.Expect{method}(\"{field.Keys}\", nameof({field.Name}), {field.Name}{fallback});");
            }
            else if (field.Kind == ConfigKind.Int)
            {
                writer.WriteLine($"{(declareLocals ? "int " : "")}{field.Name} = config.Positive(config.GetInt(\"{field.Keys}\", nameof({field.Name}){fallback}), \"{field.Keys}\", nameof({field.Name}));");
            }
            else if (field.Positive)
            {
                writer.WriteLine($"{(declareLocals ? TypeOf(field.Kind) + " " : "")}{field.Name} = config.Positive(config.Get{method}(\"{field.Keys}\", nameof({field.Name}){fallback}), \"{field.Keys}\", nameof({field.Name}));");
            }
            else
            {
                writer.WriteLine($"{(declareLocals ? TypeOf(field.Kind) + " " : "")}{field.Name} = config.Get{method}(\"{field.Keys}\", nameof({field.Name}){fallback});");
            }
        }
    }

    private static string DefaultExpression(ConfigFieldInfo field) => field.Kind switch
    {
        ConfigKind.Bool => field.Default == "true" ? "true" : "false",
        ConfigKind.Float => $"(float)({SizeExpr.Parse(field.Default!)})",
        _ => SizeExpr.Parse(field.Default!).ToString(),
    };

    public static string TypeOf(ConfigKind kind) => kind switch { ConfigKind.Int => "int", ConfigKind.Float => "float", _ => "bool" };

    public static string Literal(ConfigKind kind, object value) => kind switch
    {
        ConfigKind.Bool => (bool)value ? "true" : "false",
        ConfigKind.Float => ((float)(double)value).ToString("R", CultureInfo.InvariantCulture) + "f",
        _ => ((int)(double)value).ToString(CultureInfo.InvariantCulture),
    };
}
