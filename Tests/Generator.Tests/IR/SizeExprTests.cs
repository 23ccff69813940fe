using Tessera.Generator.IR;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Tests.IR;

/// <summary>
/// Size and scalar expressions: parsed from what the front end reads, printed as the C# the engines run, evaluated as
/// C# would (a quotient of ints truncates, one of floats does not), per layer where they name the layer.
/// </summary>
public sealed class SizeExprTests
{
    [Theory]
    [InlineData("Heads * HeadDim", "Heads * HeadDim")]
    [InlineData("(KvHeads + TensorDegree - 1) / TensorDegree * HeadDim", "(KvHeads + TensorDegree - 1) / TensorDegree * HeadDim")]
    [InlineData("Sliding[Layer] ? Window : 0", "Sliding[layer] ? Window : 0")]
    [InlineData("!DenseLayer[Layer] && (Layer + 1) % SparseStep == 0", "!DenseLayer[layer] && (layer + 1) % SparseStep == 0")]
    [InlineData("UseSlidingWindow && Layer >= MaxWindowLayers", "UseSlidingWindow && layer >= MaxWindowLayers")]
    [InlineData("1 / Sqrt(QueryScalar)", "1 / global::System.MathF.Sqrt(QueryScalar)")]
    [InlineData("Sliding[Layer] ? RopeScaling.None : Scaling", "Sliding[layer] ? global::Tessera.RopeScaling.None : Scaling")]
    [InlineData("0.5", "0.5f")]
    [InlineData("a - (b - c)", "a - (b - c)")]
    [InlineData("(a || b) && c", "(a || b) && c")]
    [InlineData("a == (b == c)", "a == (b == c)")]
    public void AnExpression_PrintsAsTheCSharpTheEnginesRun(string text, string csharp) =>
        Assert.Equal(csharp, SizeExpr.Parse(text).ToString());

    [Fact]
    public void APrintedExpression_ParsesBackToTheSameExpression()
    {
        foreach (var text in new[] { "!(a && b) || c % 3 != 0", "x ? y ? 1 : 2 : 3", "Sliding[Layer] ? 2 * Theta : Theta" })
        {
            var expression = SizeExpr.Parse(text);
            Assert.Equal(expression.ToString(), SizeExpr.Parse(expression.ToString().Replace("layer", "Layer")).ToString());
        }
    }

    [Theory]
    [InlineData("Dim / Heads", 2)]           // ints: truncated, as C# divides them
    [InlineData("1 / Sqrt(Heads)", 0.57735)] // a float divisor: not truncated (Heads = 3)
    [InlineData("Eps / 2", 0.25)]            // a float field
    [InlineData("(Layer + 1) % 2 != 0", 1)]  // at layer 2: true
    [InlineData("Sliding[Layer] ? Window : 0", 4)]
    [InlineData("!Sliding[Layer] || Layer > 5", 0)]
    public void AnExpression_EvaluatesAsCSharpWould(string text, double expected)
    {
        double? Lookup(string name) => name switch
        {
            "Dim" => 7, "Heads" => 3, "Eps" => 0.5, "Layer" => 2, "Window" => 4, "Sliding[2]" => 1, _ => null,
        };
        Assert.Equal(expected, SizeExpr.Parse(text).Evaluate(Lookup, name => name == "Eps")!.Value, 5);
    }

    [Fact]
    public void AnExpressionNamingTheLayer_IsPerLayer_AndNamesItsFields()
    {
        Assert.True(SizeExpr.Parse("Sliding[Layer] ? Window : 0").IsPerLayer);
        Assert.True(SizeExpr.Parse("Layer >= MaxWindowLayers").IsPerLayer);
        Assert.False(SizeExpr.Parse("UseSlidingWindow ? Window : 0").IsPerLayer);
        Assert.Equal(["Sliding", "Layer", "Window"], SizeExpr.Parse("Sliding[Layer] ? Window : 0").Names());
        Assert.Empty(SizeExpr.Parse("RopeScaling.None").Names());
    }

    [Theory]
    [InlineData("Pow(2, 3)", "not a function")]
    [InlineData("a ? b", "missing ':'")]
    [InlineData("Sliding[Layer", "missing ']'")]
    public void AnExpressionOutsideTheGrammar_IsRefusedSayingWhy(string text, string error)
    {
        Assert.False(SizeExpr.TryParse(text, out _, out string? message));
        Assert.Contains(error, message);
    }

    [Fact]
    public void APredicate_OfBothSidesOfAChoice_IsAlways_AndOfOneSide_IsItsCondition()
    {
        var sparse = SizeExpr.Parse("Sliding[Layer]");
        var whenTrue = Predicate.Always.And(sparse, holds: true);
        var whenFalse = Predicate.Always.And(sparse, holds: false);
        Assert.Equal("Sliding[layer]", whenTrue.ToCSharp());
        Assert.Equal("!Sliding[layer]", whenFalse.ToCSharp());
        Assert.True(whenTrue.Or(whenFalse).IsAlways);
        Assert.Null(whenTrue.Or(whenFalse).ToCSharp());
        // Nested choices: (a and b) or (a and not b) is a; (a and b) or a is a.
        var a = SizeExpr.Parse("A");
        var b = SizeExpr.Parse("B");
        Assert.Equal("A", whenTrue.And(a, true).And(b, true).Or(Predicate.Always.And(a, true).And(b, false)).And(sparse, true).ToCSharp()?.Replace("Sliding[layer] && ", "").Replace(" && Sliding[layer]", ""));
        Assert.Equal(Predicate.Always.And(a, true), Predicate.Always.And(a, true).And(b, true).Or(Predicate.Always.And(a, true)));
        Assert.Equal(true, whenFalse.Holds(n => n == "Sliding[2]" ? 0 : n == "Layer" ? 2 : null));
    }
}
