namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>TSR0017, TSR0018 and the mixture-of-experts cases of the others: a router's top-k, the expert degree, a router of the wrong width.</summary>
public sealed class ExpertDiagnosticTests : DiagnosticTestBase
{
    private const string MoeModel = """
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
            [Config("num_hidden_layers")] static int LayerCount;
            [Config("num_local_experts")] static int ExpertCount;
            [Config("num_experts_per_tok")] static int TopK;

            [Weight("embed", Out = nameof(Vocab), In = nameof(Dim))] Embedding Embed;
            [Layers("layers", Count = nameof(LayerCount))] Block[] Layers;
            [Weight("head", Out = nameof(Vocab), In = nameof(Dim))] Linear Head;

            Tensor Forward(Tensor tokens, KvCache cache)
            {
                var x = Embed(tokens);
                foreach (var layer in Layers) x = layer.Forward(x, cache);
                return Head(x);
            }

            public partial class Block
            {
                [Weight("gate", Out = nameof(ExpertCount), In = nameof(Dim))] Linear Router;
                [Experts("experts", Count = nameof(ExpertCount))] Expert[] Experts;

                public Tensor Forward(Tensor x, KvCache cache)
                {
                    var routing = Route(Router(x), TopK);
                    return x + Mixture(Experts, x, routing);
                }
            }

            public partial class Expert
            {
                [Weight("up", Out = nameof(Ffn), In = nameof(Dim)), ColumnParallel] Linear Up;
                [Weight("down", Out = nameof(Dim), In = nameof(Ffn)), RowParallel] Linear Down;

                public Tensor Forward(Tensor x) => Down(Silu(Up(x)));
            }
        }

        """;

    private const string MoeConfig = """{ "hidden_size": 8, "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 16, "num_hidden_layers": 2, "num_local_experts": 4, "num_experts_per_tok": 2 }""";

    private static string Unit(string arguments = "") => $$"""

        [Compile(typeof(M), Config = "configs/tiny/config.json"{{(arguments.Length == 0 ? "" : ", " + arguments)}})]
        public partial class TinyM;
        """;

    [Fact]
    public void AMixtureOfExperts_CompilesCleanly_AsAGenericEngine_AUnit_AndAnExpertParallelUnit()
    {
        AssertClean(MoeModel, MoeConfig);
        AssertClean(MoeModel + Unit(), MoeConfig);
        AssertClean(MoeModel + Unit("Expert = 4, Tensor = 2, Pipeline = 2"), MoeConfig);
    }

    [Fact]
    public void ATopKAboveTheExperts_IsReportedAtTheRoute()
    {
        var run = AssertSingle("TSR0017", MoeModel.Replace("var routing = Route(Router(x), TopK);", "var routing = [|Route(Router(x), TopK)|];") + Unit(),
            MoeConfig.Replace("\"num_experts_per_tok\": 2", "\"num_experts_per_tok\": 5"));
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("Route picks TopK = 5 experts per token", message);
        Assert.Contains("at most the layer's experts (ExpertCount = 4)", message);
    }

    [Fact]
    public void ATopKBelowOne_IsReportedAtTheRoute()
    {
        var run = AssertSingle("TSR0017", MoeModel.Replace("var routing = Route(Router(x), TopK);", "var routing = [|Route(Router(x), 0)|];") + Unit(), MoeConfig);
        Assert.Contains("Route picks 0 = 0 experts per token", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void TheShapeGenericEngine_ChecksTopKWhenTheConfigLoads()
    {
        var run = Infrastructure.GeneratorHarness.Run(MoeModel);
        Assert.Empty(run.Diagnostics);
        Assert.Contains("if (!((TopK) <= (ExpertCount)))", run.Source("Test.M.Engine.g.cs"));
    }

    [Fact]
    public void AnExpertDegreeThatDoesNotDivideTheExperts_IsReportedWithTheDegreesThatWork()
    {
        var run = AssertSingle("TSR0018", MoeModel + Unit("Expert = [|3|]"), MoeConfig);
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("Expert = 3 does not divide the 4 experts of 'M' (ExpertCount = 4)", message);
        Assert.Contains("degrees that work: 1, 2, 4", message);
    }

    [Fact]
    public void AnExpertDegree_OnAModelWithoutExperts_IsReported()
    {
        var run = AssertSingle("TSR0014", TinyModel + Unit("Expert = [|2|]"));
        Assert.Contains("has no [Experts] to split", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void ARouterThatDoesNotGiveOneLogitPerExpert_IsAShapeMismatch()
    {
        var run = AssertSingle("TSR0003",
            MoeModel.Replace("[Weight(\"gate\", Out = nameof(ExpertCount), In = nameof(Dim))]", "[Weight(\"gate\", Out = nameof(Ffn), In = nameof(Dim))]")
                .Replace("var routing = Route(Router(x), TopK);", "var routing = [|Route(Router(x), TopK)|];") + Unit(), MoeConfig);
        Assert.Contains("the router logits of 'Experts' (one per expert) expects width ExpertCount = 4 but is given width Ffn = 16", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void MixtureOfAnythingButTheBlocksExpertsField_IsOutsideTheVocabulary()
    {
        var run = AssertSingle("TSR0001",
            MoeModel.Replace("[Experts(\"experts\", Count = nameof(ExpertCount))] Expert[] Experts;", "[Experts(\"experts\", Count = nameof(ExpertCount))] Expert[] Experts;\n        Expert[] Spare = [];")
                .Replace("Mixture(Experts, x, routing)", "Mixture([|Spare|], x, routing)"), MoeConfig);
        Assert.Contains("Mixture takes this block's [Experts] field", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void SwitchStyleTopOneRouting_WithoutRenormalising_IsASmallChangeOfTheModel()
    {
        var run = Infrastructure.GeneratorHarness.Run(MoeModel.Replace("Route(Router(x), TopK)", "Route(Router(x), 1, renormalize: false)"));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompilationErrors);
        Assert.Contains("_router.Route(_blockRouterOutMixture, rows, ExpertCount, 1, renormalize: false, layer);", run.Source("Test.M.Engine.g.cs"));
    }
}
