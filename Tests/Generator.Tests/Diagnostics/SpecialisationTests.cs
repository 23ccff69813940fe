namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>TSR0003-TSR0007, TSR0011: what a [Compile] unit finds when it reads its config at build time.</summary>
public sealed class SpecialisationTests : DiagnosticTestBase
{
    [Fact]
    public void ALinearFedTheWrongWidth_IsFoundByShapeInference_AtTheCall()
    {
        // Down expects Ffn = 16 features; x has Dim = 8.
        var run = AssertSingle("TSR0003", TinyModel.Replace("x += Down(Silu(Up(x)));", "x += [|Down(x)|];") + CompileUnit);
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("Linear 'Down' expects width Ffn = 16 but is given width Dim = 8", message);
    }

    [Fact]
    public void TheSameMismatch_InTheShapeGenericEngine_BecomesALoadTimeCheck()
    {
        var run = Infrastructure.GeneratorHarness.Run(TinyModel.Replace("x += Down(Silu(Up(x)));", "x += Down(x);"));
        Assert.Empty(run.Diagnostics);
        Assert.Contains("if (!((Dim) == (Ffn)))", run.Source("Test.M.Engine.g.cs"));
    }

    [Fact]
    public void AConfigFileMissingFromAdditionalFiles_IsReportedAtTheConfigArgument()
    {
        var run = AssertSingle("TSR0004", TinyModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/other/config.json\"|]"));
        Assert.Contains("configs/other/config.json", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void AMalformedConfigFile_IsReportedAtTheConfigArgument()
    {
        var run = AssertSingle("TSR0005", TinyModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/tiny/config.json\"|]"),
            config: """{ "hidden_size": 8, "vocab_size": """);
        Assert.Contains("malformed", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void AConfigWithoutAKeyTheModelNeeds_IsReportedWithTheKeyAndTheField()
    {
        var run = AssertSingle("TSR0006", TinyModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/tiny/config.json\"|]"),
            config: """{ "hidden_size": 8, "vocab_size": 32, "max_position_embeddings": 16 }""");
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("\"intermediate_size\"", message);
        Assert.Contains("Ffn", message);
    }

    [Fact]
    public void AConfigValueOfTheWrongKind_IsReported()
    {
        var run = AssertSingle("TSR0011", TinyModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/tiny/config.json\"|]"),
            config: """{ "hidden_size": "eight", "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 16 }""");
        Assert.Contains("hidden_size", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void ANonPositiveSize_IsReported()
    {
        AssertSingle("TSR0011", TinyModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/tiny/config.json\"|]"),
            config: """{ "hidden_size": 0, "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 16 }""");
    }

    [Fact]
    public void CompilingATypeThatIsNotAModel_IsReportedAtTheTypeof()
    {
        var run = AssertSingle("TSR0007", TinyModel + """

            public class NotAModel { }

            [Compile([|typeof(NotAModel)|], Config = "configs/tiny/config.json")]
            public partial class Bad;
            """);
        Assert.Contains("Test.NotAModel", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void ACompileUnitThatIsNotPartial_IsReportedAtItsName()
    {
        AssertSingle("TSR0008", TinyModel + CompileUnit.Replace("public partial class TinyM;", "public class [|TinyM|];"));
    }

    [Fact]
    public void EveryDescriptor_HasAUniqueStableId_AndIsInTheReleaseLedger()
    {
        var ids = Tessera.Generator.Diagnostics.DiagnosticDescriptors.All.Select(d => d.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        string ledger = File.ReadAllText(Path.Combine(Infrastructure.GeneratorHarness.RepositoryRoot(), "Generator", "AnalyzerReleases.Unshipped.md"))
                        + File.ReadAllText(Path.Combine(Infrastructure.GeneratorHarness.RepositoryRoot(), "Generator", "AnalyzerReleases.Shipped.md"));
        Assert.All(ids, id => Assert.Contains(id + " |", ledger));
    }
}
