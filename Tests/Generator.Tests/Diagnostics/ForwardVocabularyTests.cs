namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>TSR0001 / TSR0002: a Forward body may only use the op vocabulary; errors point at the offending code.</summary>
public sealed class ForwardVocabularyTests : DiagnosticTestBase
{
    [Fact]
    public void TheTinyModel_CompilesCleanly_WithAndWithoutASpecialisedUnit()
    {
        AssertClean(TinyModel);
        AssertClean(TinyModel + CompileUnit);
    }

    [Fact]
    public void ACallOutsideTheVocabulary_IsReportedAtTheCallee()
    {
        var run = AssertSingle("TSR0001", TinyModel
            .Replace("var x = Embed(tokens);", "var x = [|Helper|](Embed(tokens));")
            .Replace("    Tensor Forward(", "    static Tensor Helper(Tensor t) => t;\n\n    Tensor Forward("));
        Assert.Contains("'Helper' is not in the Tessera op vocabulary", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void AnExpressionOutsideTheVocabulary_IsReportedAtTheExpression()
    {
        AssertSingle("TSR0001", TinyModel.Replace("return Head(x);", "return Head([|default(Tensor)|]);"));
    }

    [Fact]
    public void AStatementOutsideTheVocabulary_IsReportedAtTheStatement()
    {
        var run = AssertSingle("TSR0002", TinyModel.Replace("return Head(x);", "[|if (Dim > 4) x = Up(x);|]\n        return Head(x);"));
        Assert.Contains("'if' statement", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void AModelWithoutForward_IsReportedAtTheClass()
    {
        string source = TinyModel.Replace("public partial class M", "public partial class [|M|]");
        int start = source.IndexOf("    Tensor Forward(", StringComparison.Ordinal);
        int end = source.IndexOf("    }\n}", start, StringComparison.Ordinal) + 6;
        AssertSingle("TSR0010", source.Remove(start, end - start));
    }

    [Fact]
    public void AModelThatIsNotPartial_IsReportedAtItsName()
    {
        AssertSingle("TSR0008", TinyModel.Replace("public partial class M", "public class [|M|]"));
    }

    [Fact]
    public void AWeightOnAFieldThatIsNotAModule_IsReportedAtTheField()
    {
        var run = AssertSingle("TSR0009", TinyModel.Replace("Linear Head;", "Linear Head;\n    [Weight(\"bad\", In = nameof(Dim))] int [|Bad|];"));
        Assert.Contains("is not a module type", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void ASizeExpressionNamingAnUnknownField_IsReportedAtTheField()
    {
        var run = AssertSingle("TSR0009", TinyModel.Replace("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim))] Linear Up;", "[Weight(\"up\", Out = \"Hidden * 4\", In = nameof(Dim))] Linear [|Up|];"));
        Assert.Contains("'Hidden'", run.Diagnostics[0].GetMessage());
    }
}
