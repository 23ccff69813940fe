using Tessera.Generator.Diagnostics;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// A condition on sizes that shape inference needs: two widths equal, or one divisible by another. A specialised unit
/// decides it at build time; the shape-generic engine checks the undecided ones when config.json is bound.
/// </summary>
/// <param name="Left">the width given</param>
/// <param name="Right">the width expected (Equal) or the divisor (Divisible)</param>
/// <param name="IsDivisibility">true: Left % Right == 0; false: Left == Right</param>
/// <param name="Subject">who needs it, for messages ("Linear 'O'")</param>
/// <param name="Location">the expression in the model source</param>
internal sealed record ShapeConstraint(SizeExpr Left, SizeExpr Right, bool IsDivisibility, string Subject, LocationInfo? Location)
{
    /// <summary>True when the condition holds whatever the config says (same expression on both sides).</summary>
    public bool IsTriviallyTrue => IsDivisibility
        ? Right is SizeExpr.Number { Value: 1 } || HasFactor(Left, Right.ToString())
        : Left.ToString() == Right.ToString();

    private static bool HasFactor(SizeExpr e, string factor) =>
        e.ToString() == factor || e is SizeExpr.Binary { Operator: '*' } b && (HasFactor(b.Left, factor) || HasFactor(b.Right, factor));

    /// <summary>The condition as C#, for the generic engine's load-time check.</summary>
    public string ToCSharp() => IsDivisibility ? $"({Left}) % ({Right}) == 0" : $"({Left}) == ({Right})";

    public string Expected => IsDivisibility ? $"a width divisible by {Right}" : $"width {Right}";
}
