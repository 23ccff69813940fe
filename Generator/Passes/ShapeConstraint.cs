using Tessera.Generator.Diagnostics;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>How the two sides of a <see cref="ShapeConstraint"/> must relate.</summary>
internal enum Relation
{
    /// <summary>Left == Right.</summary>
    Equal,

    /// <summary>Left % Right == 0.</summary>
    Divisible,

    /// <summary>Left &gt;= Right (a router's k is at least 1).</summary>
    AtLeast,

    /// <summary>Left &lt;= Right (a router's k is at most its experts).</summary>
    AtMost,
}

/// <summary>
/// A condition on sizes that shape inference needs: two widths equal, one divisible by another, or a count within a
/// bound. A specialised unit decides it at build time; the shape-generic engine checks the undecided ones when
/// config.json is bound.
/// </summary>
/// <param name="Left">the width (or count) given</param>
/// <param name="Right">the width expected, the divisor, or the bound</param>
/// <param name="Relation">how Left must relate to Right</param>
/// <param name="Subject">who needs it, for messages ("Linear 'O'")</param>
/// <param name="Location">the expression in the model source</param>
internal sealed record ShapeConstraint(SizeExpr Left, SizeExpr Right, Relation Relation, string Subject, LocationInfo? Location)
{
    /// <summary>True when the condition holds whatever the config says (same expression on both sides).</summary>
    public bool IsTriviallyTrue => Relation switch
    {
        Relation.Divisible => Right is SizeExpr.Number { Value: 1 } || HasFactor(Left, Right.ToString()),
        Relation.AtLeast or Relation.AtMost => Left.ToString() == Right.ToString(),
        _ => Left.ToString() == Right.ToString(),
    };

    /// <summary>Whether the condition holds for these values.</summary>
    public bool Holds(double left, double right) => Relation switch
    {
        Relation.Divisible => right != 0 && left % right == 0,
        Relation.AtLeast => left >= right,
        Relation.AtMost => left <= right,
        _ => left == right,
    };

    private static bool HasFactor(SizeExpr e, string factor) =>
        e.ToString() == factor || e is SizeExpr.Binary { Operator: '*' } b && (HasFactor(b.Left, factor) || HasFactor(b.Right, factor));

    /// <summary>The condition as C#, for the generic engine's load-time check.</summary>
    public string ToCSharp() => Relation switch
    {
        Relation.Divisible => $"({Left}) % ({Right}) == 0",
        Relation.AtLeast => $"({Left}) >= ({Right})",
        Relation.AtMost => $"({Left}) <= ({Right})",
        _ => $"({Left}) == ({Right})",
    };

    public string Expected => Relation switch
    {
        Relation.Divisible => $"a width divisible by {Right}",
        Relation.AtLeast => $"at least {Right}",
        Relation.AtMost => $"at most {Right}",
        _ => $"width {Right}",
    };

    /// <summary>True for the bounds of a router's top-k (the only bounds shape inference makes).</summary>
    public bool IsTopKBound => Relation is Relation.AtLeast or Relation.AtMost;
}
