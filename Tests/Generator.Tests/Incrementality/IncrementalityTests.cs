using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Tessera.Generator.Constants;
using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Incrementality;

/// <summary>Edits that do not change a model reuse the cached work; edits that do, redo only what they affect.</summary>
public sealed class IncrementalityTests
{
    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun()
    {
        var zoo = new[] { ModelSources.Architecture("Llama"), ModelSources.Architecture("Gpt2"), ModelSources.Architecture("Specialised") };
        var compilation = GeneratorHarness.Compilation(zoo);
        var driver = GeneratorHarness.Driver([ModelSources.Config("tiny-llama"), ModelSources.Config("tiny-gpt2")]).RunGenerators(compilation);
        return (driver, compilation);
    }

    private static GeneratorRunResult Rerun(Func<SyntaxTree, SyntaxTree> edit, string file)
    {
        var (driver, compilation) = FirstRun();
        var tree = compilation.SyntaxTrees.Single(t => t.FilePath.EndsWith(file, StringComparison.Ordinal));
        var edited = compilation.ReplaceSyntaxTree(tree, edit(tree));
        return driver.RunGenerators(edited).GetRunResult().Results.Single();
    }

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    private static SyntaxTree Append(SyntaxTree tree, string text) =>
        tree.WithChangedText(tree.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(new(tree.GetText().Length, 0), text)));

    [Fact]
    public void AddingACommentToAModel_DoesNotRegenerateItsEngine()
    {
        var result = Rerun(t => Append(t, "\n// a comment\n"), "Llama.cs");

        Assert.All(Reasons(result, TrackingNames.GenericEngines), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
        Assert.All(Reasons(result, TrackingNames.SpecialisedEngines), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
    }

    [Fact]
    public void AnEditAboveTheModel_MovesEveryLocation_AndTheEmitStepsStayCached()
    {
        // Every line of the model moves down: a cached model that held a location (or a diagnostic with one) would
        // differ and re-run the emit steps. They must not run at all.
        var result = Rerun(t => t.WithChangedText(t.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(new(0, 0), "// a comment above the model\n\n"))), "Llama.cs");

        Assert.All(Reasons(result, TrackingNames.GenericEngines), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        Assert.All(Reasons(result, TrackingNames.SpecialisedEngines), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void ADiagnosticOfACachedModel_IsReportedWhereTheModelIsNow()
    {
        // A shape error the passes find with a config's sizes (a unit adds an Ffn-wide value to a Dim-wide one), then
        // an edit above the model and the unit.
        string source = Diagnostics.DiagnosticTestBase.TinyModel.Replace("x += Down(Silu(Up(x)));", "x += Silu(Up(x));") + Diagnostics.DiagnosticTestBase.CompileUnit;
        var compilation = GeneratorHarness.Compilation([("Model.cs", source)]);
        var config = new InMemoryAdditionalText("/repo/configs/tiny/config.json", Diagnostics.DiagnosticTestBase.TinyConfig);
        var driver = GeneratorHarness.Driver([config]).RunGenerators(compilation);
        var before = Assert.Single(driver.GetRunResult().Diagnostics);
        var tree = compilation.SyntaxTrees.Single();
        const string above = "// two lines\n// above the model\n";
        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(tree.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(new(0, 0), above)))));

        var result = driver.GetRunResult().Results.Single();
        Assert.All(Reasons(result, TrackingNames.SpecialisedEngines), r => Assert.Equal(IncrementalStepRunReason.Cached, r));
        var after = Assert.Single(result.Diagnostics);
        Assert.Equal(before.Id, after.Id);
        Assert.Equal(before.Location.SourceSpan.Start + above.Length, after.Location.SourceSpan.Start);
        Assert.Equal(before.Location.GetLineSpan().StartLinePosition.Line + 2, after.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void AddingAnUnrelatedType_DoesNotRegenerate()
    {
        var result = Rerun(t => Append(t, "\nnamespace Other { public class Unrelated { } }\n"), "Specialised.cs");

        Assert.All(Reasons(result, TrackingNames.GenericEngines), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
        Assert.All(Reasons(result, TrackingNames.SpecialisedEngines), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
    }

    [Fact]
    public void ChangingABlockBody_RegeneratesThatModelOnly()
    {
        var result = Rerun(t => CSharpSyntaxTree.ParseText(t.GetText().ToString().Replace("Silu(Gate(h)) * Up(h)", "Up(h) * Silu(Gate(h))"), GeneratorHarness.ParseOptions, t.FilePath), "Llama.cs");

        var generic = Reasons(result, TrackingNames.GenericEngines).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, generic);
        Assert.Contains(generic, r => r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged); // GPT-2's engine
    }
}
