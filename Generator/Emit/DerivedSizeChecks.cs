using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;

namespace Tessera.Generator.Emit;

/// <summary>
/// The shape-generic engine derives sizes from config ints (Heads * HeadDim, a default of 4 * Dim) and holds them as
/// int. A hostile config.json can make such a product wrap around — to a negative, to 0, or to the very width the
/// tensors have — so each one is first computed in checked 64-bit arithmetic by <c>ModelConfig.DerivedSize</c>, which
/// refuses it past int.MaxValue, naming the config values rather than the wrapped size.
/// </summary>
internal static class DerivedSizeChecks
{
    /// <summary>Statements checking every derived weight dimension of the model (the plain names are config ints already).</summary>
    public static void Write(ModelInfo model, IndentedTextWriter writer)
    {
        var derived = new[] { model.Root }.Concat(model.Blocks)
            .SelectMany(m => m.Weights)
            .SelectMany(w => new[] { w.Out, w.In, w.FusedOut, w.FusedOffset })
            .OfType<string>()
            .Select(SizeExpr.Parse)
            .Where(e => e is SizeExpr.Binary)
            .GroupBy(e => e.ToString())
            .Select(g => g.First())
            .ToList();
        if (derived.Count == 0) return;
        writer.WriteLine();
        writer.WriteLine("// Sizes derived from config ints: refused if one does not fit an int, before it sizes anything.");
        foreach (var size in derived)
            writer.WriteLine($"_ = {Call(model, size)};");
    }

    /// <summary>
    /// A C# expression for an int field's default: a product or sum through <c>config.DerivedSize</c>, anything else
    /// (a name, a literal, a quotient, which cannot overflow) as written.
    /// </summary>
    public static string Fallback(ModelInfo model, SizeExpr expression) =>
        expression is SizeExpr.Binary { Operator: '*' or '+' } ? Call(model, expression) : expression.ToString();

    /// <summary>
    /// For a default that is a quotient (head_dim = Dim / Heads), a statement refusing a config where it does not divide
    /// exactly and the key is absent: the truncated quotient would only fail later, as a shape mismatch far from its cause.
    /// </summary>
    public static void WriteExactQuotient(ModelInfo model, ConfigFieldInfo field, IndentedTextWriter writer)
    {
        if (field.Kind != ConfigKind.Int || field.Default is null || SizeExpr.Parse(field.Default) is not SizeExpr.Binary { Operator: '/' } quotient)
            return;
        writer.WriteLine($"if (!config.TryGet(\"{field.Keys}\", out _) && ({quotient.Left}) % ({quotient.Right}) != 0)");
        writer.IncreaseIndent();
        writer.WriteLine($"throw new global::Tessera.Checkpoints.CheckpointException($\"{{config.Path}}: \\\"{FirstKey(field.Keys)}\\\" is not set, and its default {quotient} " +
                         $"needs {Operands(model, quotient.Left)} to be a multiple of {Operands(model, quotient.Right)}.\");");
        writer.DecreaseIndent();
    }

    private static string Call(ModelInfo model, SizeExpr size) =>
        $"config.DerivedSize(\"{size}\", () => checked({Int64(size)}), $\"{Operands(model, size)}\")";

    /// <summary>The expression in 64-bit arithmetic: every name widened, fully parenthesised.</summary>
    private static string Int64(SizeExpr size) => size switch
    {
        SizeExpr.Name n => $"(long){n.Value}",
        SizeExpr.Binary b => $"({Int64(b.Left)} {b.Operator} {Int64(b.Right)})",
        _ => size.ToString(),
    };

    /// <summary>The config values an expression is made of, as an interpolated-string body: \"head_dim\" = {HeadDim}, ...</summary>
    private static string Operands(ModelInfo model, SizeExpr size) =>
        string.Join(", ", size.Names().Distinct().Select(name =>
            model.Config.FirstOrDefault(f => f.Name == name) is { } field ? $"\\\"{FirstKey(field.Keys)}\\\" = {{{name}}}" : $"{name} = {{{name}}}"));

    private static string FirstKey(string keys) => keys.Split('|')[0];
}
