using Tessera.Generator.Tests.Infrastructure;

namespace Tessera.Generator.Tests.Emit;

/// <summary>
/// On the CPU, products of one input run in one kernel call (CpuKernels.MatMul over several targets) where their
/// epilogues may run inside it: at the first product's place, beside the others.
/// </summary>
public sealed class CpuStackedProductTests
{
    private const string Model = """
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
            [Config("rms_norm_eps", Default = "0.00001", Positive = true)] static float Eps;

            [Config("num_hidden_layers")] static int LayerCount;

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
                [Weight("a", Out = nameof(Ffn), In = nameof(Dim))] Linear A;
                [Weight("b", Out = nameof(Ffn), In = nameof(Dim))] Linear B;
                [Weight("c", Out = nameof(Dim), In = nameof(Dim))] Linear C;
                [Weight("d", Out = nameof(Dim), In = nameof(Dim))] Linear D;
                [Weight("n", In = nameof(Dim), Epsilon = nameof(Eps))] RmsNorm N;
                [Weight("down", Out = nameof(Dim), In = nameof(Ffn))] Linear Down;

                public Tensor Forward(Tensor x, KvCache cache)
                {
                    BODY
                }
            }
        }

        """;

    [Fact]
    public void AnEpilogueReadingAnEarlierProductOfTheSameWidth_RunsInTheOneCall()
    {
        // SwiGLU's shape: B's epilogue multiplies by silu(A(x)), A's finished segment (the runtime computes each column
        // chunk for A, then B, on one thread).
        string engine = Generate("return x + Down(Silu(A(x)) * B(x));");
        Assert.Contains("[new(w.A, Ffn, ", engine);
        Assert.Contains("new(w.B, Ffn, ", engine);
        Assert.Contains("global::Tessera.Cpu.Epilogue ", engine);
    }

    [Fact]
    public void AnEpilogueReadingWhatAKernelInBetweenWrites_KeepsItsProductInPlace()
    {
        // N(x) runs between C and D (the GPU stacks them: N touches neither's buffer) and D's epilogue adds its
        // result: D cannot run early, inside C's call.
        string engine = Generate("var c = C(x); var n = N(x); return c + (D(x) + n);");
        Assert.DoesNotContain("[new(", engine);
        Assert.Contains("w.D,", engine);
    }

    [Fact]
    public void ProductsOfOneInput_WrittenBetweenWorkOnEachResult_AreMovedTogether_AndRunAsOne()
    {
        // Qwen3's attention: Rope(QNorm(Q(h))), then Rope(KNorm(K(h))), then V(h). D moves up beside C (it reads only x),
        // so the buffer plan gives each product its own buffer and both back ends run one product.
        string engine = Generate("var c = N(C(x)); var d = N(D(x)); return x + c * d;");
        Assert.Contains("[new(w.C, Dim, ", engine);
        Assert.Contains("new(w.D, Dim, ", engine);
        Assert.True(engine.IndexOf("CpuKernels.RmsNorm(", StringComparison.Ordinal) > engine.IndexOf("new(w.D, Dim, ", StringComparison.Ordinal), "N runs after the stacked products");
    }

    [Fact]
    public void ProductsOfOneInputOutsideTheLayers_RunAsOneToo_OnBothBackEnds()
    {
        // The model's own products (not a block's): the CPU runs them in one call, the GPU as one product over the
        // stack it uploads (before, the GPU uploaded the stack and launched the products from weights it did not hold).
        var run = GeneratorHarness.Run(Model
            .Replace("foreach (var layer in Layers) x = layer.Forward(x, cache);", "x += Down(Silu(A(x)) * B(x));")
            .Replace("[Layers(\"layers\", Count = nameof(LayerCount))] Block[] Layers;", """
                [Weight("a", Out = nameof(Ffn), In = nameof(Dim))] Linear A;
                [Weight("b", Out = nameof(Ffn), In = nameof(Dim))] Linear B;
                [Weight("down", Out = nameof(Dim), In = nameof(Ffn))] Linear Down;
                """)
            .Replace("BODY", "return x;"));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompilationErrors);
        string source = GeneratorHarness.Joined(run.Source("Test.M.Engine.g.cs"));
        Assert.Contains("[new(_weights.A, Ffn, ", source);
        Assert.Contains("_gpu.Gemm(_x, _weights.AB, rows, Dim, ", source);
    }

    private static string Generate(string body)
    {
        var run = GeneratorHarness.Run(Model.Replace("BODY", body));
        Assert.Empty(run.Diagnostics);
        Assert.Empty(run.CompilationErrors);
        // The CPU rank program only: the GPU one stacks both cases (it runs epilogues at their own places).
        string source = GeneratorHarness.Joined(run.Source("Test.M.Engine.g.cs"));
        Assert.Equal(2, source.Split("_gpu.Stack(").Length);
        int gpu = source.IndexOf("class Gpu", StringComparison.Ordinal);
        return gpu < 0 ? source : source[..gpu];
    }
}
