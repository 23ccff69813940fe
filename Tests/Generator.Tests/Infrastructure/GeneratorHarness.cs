using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;
using Tessera.Generator;

namespace Tessera.Generator.Tests.Infrastructure;

/// <summary>An additional file handed to the generator (a config.json).</summary>
public sealed class InMemoryAdditionalText(string path, string text) : AdditionalText
{
    public override string Path { get; } = path;

    public override SourceText GetText(CancellationToken cancellationToken = default) => SourceText.From(text);
}

/// <summary>What one generator run produced.</summary>
public sealed record GeneratorRun(CSharpCompilation Input, Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Result)
{
    public string Source(string hintNameSuffix) =>
        Result.GeneratedTrees.Single(t => t.FilePath.EndsWith(hintNameSuffix, StringComparison.Ordinal)).ToString();

    /// <summary>Errors of the compilation with the generated code added: generated code must compile.</summary>
    public IEnumerable<Diagnostic> CompilationErrors => Output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error);
}

/// <summary>Runs the Tessera generator over in-memory sources, the way the compiler does in a build.</summary>
public static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return platform.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .Append(MetadataReference.CreateFromFile(typeof(Tessera.Tensor).Assembly.Location))
            .ToImmutableArray();
    });

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Preview);

    public static CSharpCompilation Compilation(IEnumerable<(string Path, string Text)> sources) =>
        CSharpCompilation.Create("TesseraTestModels",
            sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(IEnumerable<AdditionalText>? additionalFiles = null) =>
        CSharpGeneratorDriver.Create(
            [new TransformerGenerator().AsSourceGenerator()],
            additionalFiles ?? [],
            ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static GeneratorRun Run(IEnumerable<(string Path, string Text)> sources, IEnumerable<AdditionalText>? additionalFiles = null)
    {
        var input = Compilation(sources);
        var driver = Driver(additionalFiles).RunGeneratorsAndUpdateCompilation(input, out var output, out var diagnostics);
        return new GeneratorRun(input, output, diagnostics, driver.GetRunResult());
    }

    public static GeneratorRun Run(string source, params (string Path, string Text)[] additionalFiles) =>
        Run([("Model.cs", source)], additionalFiles.Select(f => (AdditionalText)new InMemoryAdditionalText(f.Path, f.Text)));

    /// <summary>The repository root, found from this source file's location.</summary>
    /// <summary>The source with each wrapped statement back on one line, for substring checks that do not depend on line breaks.</summary>
    public static string Joined(string source) =>
        System.Text.RegularExpressions.Regex.Replace(
            System.Text.RegularExpressions.Regex.Replace(source, @"([\(\[])[ \t]*\n\s*", "$1"), @"[ \t]*\n[ \t]*", " ");

    public static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", "..", ".."));
}
