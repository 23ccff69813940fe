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
