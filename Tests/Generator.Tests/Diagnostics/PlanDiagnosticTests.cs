namespace Tessera.Generator.Tests.Diagnostics;

/// <summary>TSR0012-TSR0016: an invalid parallel plan in a [Compile] unit is a build error at the argument that makes it so.</summary>
public sealed class PlanDiagnosticTests : DiagnosticTestBase
{
    // Megatron annotations on the MLP: Up splits its 16 output features, Down its 16 input features.
    private static readonly string ShardedModel = TinyModel
        .Replace("[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim))]", "[Weight(\"up\", Out = nameof(Ffn), In = nameof(Dim)), ColumnParallel]")
        .Replace("[Weight(\"down\", Out = nameof(Dim), In = nameof(Ffn))]", "[Weight(\"down\", Out = nameof(Dim), In = nameof(Ffn)), RowParallel]")
        .Replace("[Weight(\"head\", Out = nameof(Vocab), In = nameof(Dim))]", "[Weight(\"head\", Out = nameof(Vocab), In = nameof(Dim)), ColumnParallel]");

    private static string Unit(string arguments) => $$"""

        [Compile(typeof(M), Config = "configs/tiny/config.json", {{arguments}})]
        public partial class TinyM;
        """;

    [Fact]
    public void ATensorDegreeThatDoesNotDivideTheShardedSizes_NamesTheSizesAndTheDegreesThatWork()
    {
        var run = AssertSingle("TSR0012", ShardedModel + Unit("Tensor = [|3|]"));
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("Tensor = 3 does not divide", message);
        Assert.Contains("Ffn = 16", message);
        Assert.DoesNotContain("Vocab", message);   // the vocab-parallel head is padded to any degree
        Assert.Contains("degrees that work: 1, 2, 4, 8, 16", message);
    }

    [Fact]
    public void MoreStagesThanLayers_IsReportedAtThePipelineArgument()
    {
        var run = AssertSingle("TSR0013", ShardedModel + Unit("Pipeline = [|2|]"));
        Assert.Contains("has 1 layers", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void ASequenceDegreeBelowOne_IsReported()
    {
        AssertSingle("TSR0014", ShardedModel + Unit("Sequence = [|0|]"));
    }

    [Fact]
    public void FewerThanOneMicroBatch_IsReported()
    {
        AssertSingle("TSR0014", ShardedModel + Unit("MicroBatches = [|0|]"));
    }

    [Fact]
    public void AHandSplitThatDropsALayer_IsReported()
    {
        var run = AssertSingle("TSR0015", ShardedModel + Unit("LayersPerStage = [|\"2\"|]"));
        Assert.Contains("covers 2 layers", run.Diagnostics[0].GetMessage());
    }

    [Fact]
    public void APlanWhoseWeightsAndCacheExceedTheDeviceMemory_GivesThePerDeviceFigure()
    {
        // Weights: (32*8 + 16*8 + 8*16 + 32*8) floats = 3 KB; KV: none (no attention). 1KB is too little.
        var run = AssertSingle("TSR0016", ShardedModel + Unit("DeviceMemory = [|\"1KB\"|]"));
        string message = run.Diagnostics[0].GetMessage();
        Assert.Contains("A device needs 3.07 KB but DeviceMemory is 1KB", message);
    }

    [Fact]
    public void TensorParallelism_HalvesTheSplitWeights_NotTheReplicatedEmbedding()
    {
        // Embedding 32*8 floats whole on every rank; up, down and the vocab-parallel head (128 + 128 + 256) halved:
        // (256 + 256) * 4 bytes = 2.05 KB, where halving everything would claim 1.54 KB.
        var run = AssertSingle("TSR0016", ShardedModel + Unit("Tensor = 2, DeviceMemory = [|\"1KB\"|]"));
        Assert.Contains("A device needs 2.05 KB", run.Diagnostics[0].GetMessage());
    }
}
