using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>Compiles a small bad snippet and asserts the one diagnostic it must produce: its id and its exact location.</summary>
public abstract class DiagnosticTestBase
{

    /// <summary>A minimal valid model; tests replace parts of it.</summary>
    internal const string TinyModel = """
        using Tessera;
        using static Tessera.Ops;

        namespace Test;

        [Model(ContextLength = nameof(Context))]
        public partial class M
        {
            [Config("hidden_size")] static int Dim;
            [Config("intermediate_size")] static int Ffn;
            [Config("vocab_size")] static int Vocab;
            [Config("max_position_embeddings")] static int Context;

            [Weight("embed", Out = nameof(Vocab), In = nameof(Dim))] Embedding Embed;
            [Weight("up", Out = nameof(Ffn), In = nameof(Dim))] Linear Up;
            [Weight("down", Out = nameof(Dim), In = nameof(Ffn))] Linear Down;
            [Weight("head", Out = nameof(Vocab), In = nameof(Dim))] Linear Head;

            Tensor Forward(Tensor tokens, KvCache cache)
            {
                var x = Embed(tokens);
                x += Down(Silu(Up(x)));
                return Head(x);
            }
        }

        """;

    internal const string TinyConfig = """{ "hidden_size": 8, "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 16 }""";

    internal const string CompileUnit = """

        [Compile(typeof(M), Config = "configs/tiny/config.json")]
        public partial class TinyM;
        """;

    protected static GeneratorRun AssertSingle(string id, string markedSource, string? config = TinyConfig, string configPath = "/repo/configs/tiny/config.json")
    {
        var source = MarkedSource.Parse(markedSource);
        var files = config is null ? [] : new[] { (configPath, config) };
        var run = GeneratorHarness.Run(source.Text, files);

        var diagnostic = Assert.Single(run.Diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(source.Span, diagnostic.Location.SourceSpan);
        Assert.Equal("Model.cs", diagnostic.Location.GetLineSpan().Path);
        return run;
    }

    protected static void AssertClean(string source, string? config = TinyConfig)
    {
        var files = config is null ? [] : new[] { ("/repo/configs/tiny/config.json", config) };
        var run = GeneratorHarness.Run(source, files);
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompilationErrors);
    }
}
