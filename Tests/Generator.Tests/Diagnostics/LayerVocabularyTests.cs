using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>
/// The vocabulary the model families brought: per-layer values (<c>Layer</c>, per-layer [Config] arrays), a choice
/// between tensors per layer, per-head norms, fused weights, scaled and soft-capped values — compiling cleanly where
/// they are used as meant, and each misuse a diagnostic where it stands.
/// </summary>
public sealed class LayerVocabularyTests : DiagnosticTestBase
{
    /// <summary>A model with layers: attention with a per-layer window, and a per-layer choice of MLP.</summary>
    internal const string LayeredModel = """
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
            [Config("num_attention_heads")] static int Heads;
            [Config("rope_theta", Default = "10000")] static float Theta;
            [Config("rope_scaling")] static RopeScaling Scaling;
            [Config("sliding_window", Default = "0", NonNegative = true)] static int Window;
            [Config("layer_types", Map = "sliding_attention=true|full_attention=false", Default = "Layer % 2 == 0")] static bool[] Sliding;
            [Config("final_logit_softcapping", Default = "0", NonNegative = true)] static float Cap;

            [Weight("embed", Out = nameof(Vocab), In = nameof(Dim))] Embedding Embed;
            [Layers("layers", Count = nameof(LayerCount))] Block[] Layers;
            [Weight("head", Out = nameof(Vocab), In = nameof(Dim))] Linear Head;

            Tensor Forward(Tensor tokens, KvCache cache)
            {
                var x = Scale(Embed(tokens), System.MathF.Sqrt(Dim));
                foreach (var layer in Layers) x = layer.Forward(x, cache);
                return SoftCap(Head(x), Cap);
            }

            public partial class Block
            {
                [Weight("norm", In = nameof(Dim), Epsilon = nameof(Theta), Offset = 1)] RmsNorm Norm;
                [Weight("qkv", Out = nameof(Dim), In = nameof(Dim), FusedOut = "3 * Dim", FusedOffset = "0"), ColumnParallel] Linear Q;
                [Weight("qkv", Out = nameof(Dim), In = nameof(Dim), FusedOut = "3 * Dim", FusedOffset = nameof(Dim)), ColumnParallel] Linear K;
                [Weight("qkv", Out = nameof(Dim), In = nameof(Dim), FusedOut = "3 * Dim", FusedOffset = "2 * Dim"), ColumnParallel] Linear V;
                [Weight("q_norm", In = "Dim / Heads", Epsilon = nameof(Theta), PerHead = true)] RmsNorm QNorm;
                [Weight("o", Out = nameof(Dim), In = nameof(Dim)), RowParallel] Linear O;
                [Weight("up", Out = nameof(Ffn), In = nameof(Dim)), ColumnParallel] Linear Up;
                [Weight("down", Out = nameof(Dim), In = nameof(Ffn)), RowParallel] Linear Down;
                [Weight("gate", Out = "1", In = nameof(Dim))] Linear Gate;

                public Tensor Forward(Tensor x, KvCache cache)
                {
                    var h = Norm(x);
                    var q = Rope(QNorm(Q(h)), Heads, Sliding[Layer] ? 2 * Theta : Theta, Sliding[Layer] ? RopeScaling.None : Scaling);
                    var k = Rope(K(h), Heads, Theta, Scaling, 0.5f);
                    x += O(Attention(q, k, V(h), cache, Heads, Heads, scale: 1 / System.MathF.Sqrt(Dim), softCap: 50, window: Sliding[Layer] ? Window : 0));
                    return Sliding[Layer] ? x + Down(Silu(Up(x))) : x + Sigmoid(Gate(x)) * x;
                }
            }
        }

        """;

    internal const string LayeredConfig = """
        { "hidden_size": 8, "intermediate_size": 16, "vocab_size": 32, "max_position_embeddings": 16, "num_hidden_layers": 4,
          "num_attention_heads": 2, "rope_scaling": { "rope_type": "linear", "factor": 2.0 }, "sliding_window": 4,
          "layer_types": ["sliding_attention", "full_attention", "full_attention", "sliding_attention"] }
        """;

    [Fact]
    public void AModelUsingEveryOption_CompilesCleanly_AsTheGenericEngineAndAsAUnit()
    {
        AssertClean(LayeredModel + CompileUnit, LayeredConfig);
        var run = GeneratorHarness.Run(LayeredModel + CompileUnit, [("/repo/configs/tiny/config.json", LayeredConfig)]);
        string generic = run.Source("Test.M.Engine.g.cs"), unit = run.Source("Test.TinyM.g.cs");
        // Per-layer values are arrays read at the layer; a unit folds them.
        Assert.Contains("private readonly bool[] Sliding;", generic);
        Assert.Contains("private static readonly bool[] Sliding = [true, false, false, true];", unit);
        // Each side of the choice runs, and loads its weights, only in the layers that take it; its result is written
        // straight into the block's output.
        Assert.Contains("if (Sliding[layer])", generic);
        Assert.Contains("if (!Sliding[layer])", generic);
        Assert.Contains("(both sides were computed into output)", generic);
        // The fused tensor's parts load their rows; the (1 + w) norm its offset.
        Assert.Contains("fused: new global::Tessera.Checkpoints.FusedRows(Dim, 3 * Dim)", generic);
        Assert.Contains("offset: 1f", generic);
    }

    [Fact]
    public void Layer_InTheModelsOwnForward_IsReportedAtTheOp()
    {
        string source = LayeredModel.Replace("return SoftCap(Head(x), Cap);", "return [|SoftCap(Head(x), Layer == 0 ? Cap : 0)|];");
        var run = AssertSingle("TSR0019", source, config: null);
        Assert.Contains("outside the layers", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void APerLayerValue_WhereASizeIsNeeded_IsReportedAtTheOp()
    {
        string source = LayeredModel.Replace("var k = Rope(K(h), Heads, Theta, Scaling, 0.5f);", "var k = [|Rope(K(h), Sliding[Layer] ? Heads : 1, Theta)|];");
        var run = AssertSingle("TSR0019", source, config: null);
        Assert.Contains("Rope's heads is a size", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void APerLayerValue_InAWeightsShape_IsReportedAtTheField()
    {
        string source = LayeredModel
            .Replace("[Config(\"final_logit_softcapping\"", "[Config(\"widths\", Default = \"Dim\")] static int[] Widths;\n    [Config(\"final_logit_softcapping\"")
            .Replace("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim)), ColumnParallel] Linear Up;", "[Weight(\"up\", Out = \"Widths[Layer]\", In = nameof(Dim)), ColumnParallel] Linear [|Up|];");
        var run = AssertSingle("TSR0019", source, config: null);
        Assert.Contains("must be the same in every layer", run.Diagnostics[0].GetMessage());
    }

    [Theory]
    [InlineData("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim), PerHead = true), ColumnParallel] Linear [|Up|];", "options of a norm")]
    [InlineData("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim), FusedOut = \"2 * Ffn\"), ColumnParallel] Linear [|Up|];", "both FusedOut")]
    public void AModuleOptionOnTheWrongModule_IsReportedAtTheField(string up, string message)
    {
        string source = LayeredModel.Replace("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim)), ColumnParallel] Linear Up;", up);
        var run = AssertSingle("TSR0009", source, config: null);
        Assert.Contains(message, run.Diagnostics[0].GetMessage());
    }

    [Theory]
    [InlineData("[Config(\"sliding_window\", Default = \"0\", Map = \"a=1\")] static int [|Window|];", "per-layer (array) field")]
    [InlineData("[Config(\"layer_types\", Indices = true)] static int[] [|Sliding|];", "must be a bool[]")]
    [InlineData("[Config(\"layer_types\", Map = \"sliding_attention\")] static bool[] [|Sliding|];", "text=value")]
    [InlineData("[Config(\"sliding_window\", Default = \"0\", Positive = true, NonNegative = true)] static int [|Window|];", "exclude each other")]
    public void AConfigOptionThatCannotApply_IsReportedAtTheField(string field, string message)
    {
        string original = field.Contains("Sliding")
            ? "[Config(\"layer_types\", Map = \"sliding_attention=true|full_attention=false\", Default = \"Layer % 2 == 0\")] static bool[] Sliding;"
            : "[Config(\"sliding_window\", Default = \"0\", NonNegative = true)] static int Window;";
        var run = AssertSingle("TSR0009", LayeredModel.Replace(original, field), config: null);
        Assert.Contains(message, run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void APerHeadNormNotDividingItsInput_IsFoundByShapeInference_AtTheCall()
    {
        string source = LayeredModel
            .Replace("[Weight(\"q_norm\", In = \"Dim / Heads\"", "[Weight(\"q_norm\", In = \"3\"")
            .Replace("var q = Rope(QNorm(Q(h)),", "var q = Rope([|QNorm(Q(h))|],");
        var run = AssertSingle("TSR0003", source + CompileUnit, LayeredConfig);
        Assert.Contains("divisible by 3", run.Diagnostics[0].GetMessage());
    }

    [Theory]
    [InlineData("\"sliding_window\": 4", "\"sliding_window\": -1", "must be 0 or more")]
    [InlineData("\"full_attention\", \"full_attention\", \"sliding_attention\"", "\"full_attention\", \"chunked_attention\", \"sliding_attention\"", "\"full_attention\"")]
    [InlineData("\"full_attention\", \"full_attention\", \"sliding_attention\"", "\"full_attention\"", "one entry per layer (4)")]
    public void AUnitsConfigWithAnUnusableOptionValue_IsReportedAtTheConfigArgument(string original, string replacement, string message)
    {
        var run = AssertSingle("TSR0011", LayeredModel + CompileUnit.Replace("Config = \"configs/tiny/config.json\"", "Config = [|\"configs/tiny/config.json\"|]"),
            config: LayeredConfig.Replace(original, replacement));
        Assert.Contains(message, run.Diagnostics[0].GetMessage());
    }
}
