using System.Text.Json.Nodes;
using Tessera.Models.Tests.Cli;
using Tessera.Parallelism;
using Tessera.Planning;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Planning;

/// <summary>
/// The strategy advisor gives the answers an engineer would: a replica that does not fit is never advised, a model too
/// large for the GPUs is said not to fit, throughput wants data parallelism and latency tensor parallelism, a mixture
/// of experts is offered expert-parallel plans, and the seeds' 64-GPU plans can be asked for and are predicted.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class AdvisorTests
{
    private static readonly Workload Chat = new(Batch: 1, Prompt: 512, Output: 128, PlanDType.BF16, PlanDType.BF16);

    private static Advice Advise(string model, int gpus, string gpu, AdviceGoal goal, params ParallelPlan[] asked) =>
        Advice.For(EngineCatalog.Facts(DryRunPlanTests.Config(model)), new Cluster(GpuCatalogue.Find(gpu), gpus, DevicesPerNode: 8), Chat, goal, asked);

    [Theory]
    [InlineData("qwen2.5-7b")]
    [InlineData("qwen3-8b")]
    [InlineData("mistral-7b")]
    [InlineData("phi-3-mini")]
    [InlineData("gemma-2-9b-it")]
    [InlineData("gemma-3-1b-it")]
    [InlineData("llama-3.1-8b")]
    public void EveryFamily_IsAdvised_OnAnyNumberOfGpus_WithPlansThatFit(string model)
    {
        foreach (int gpus in new[] { 1, 4 })
        {
            var advice = Advise(model, gpus, "H100", AdviceGoal.Throughput);
            Assert.True(advice.AnyFits, $"{model} on {gpus} H100");
            Assert.True(advice.Plans[0].Prediction.Fits);
            Assert.True(advice.Plans[0].Prediction.TokensPerSecond > 0);
        }
    }

    [Fact]
    public void Qwen3Moe_IsOfferedExpertParallelPlans_EachExpertRankHoldingItsShareOfTheExperts()
    {
        var advice = Advise("qwen3-30b-a3b", 8, "H100", AdviceGoal.Throughput);
        Assert.Contains(advice.Plans, p => p.Plan.Expert == 8 && p.Prediction.Fits);
        // 48 layers of 128 experts of 3 x 2048 x 768, in BF16: one eighth of them per expert rank, besides the dense parts.
        var facts = EngineCatalog.Facts(DryRunPlanTests.Config("qwen3-30b-a3b"));
        long experts = 48L * 128 * 3 * 2048 * 768 * 2;
        var ep8 = MemoryEstimate.Of(facts, new ParallelPlan(Expert: 8), PlanDType.BF16, PlanDType.BF16, batch: 1, context: 1024);
        var single = MemoryEstimate.Of(facts, new ParallelPlan(), PlanDType.BF16, PlanDType.BF16, batch: 1, context: 1024);
        Assert.All(ep8.Devices, d => Assert.Equal(single.Devices[0].WeightBytes - experts + experts / 8, d.WeightBytes));
    }

    [Fact]
    public void A70BModelOn8H100s_IsNeverAdvisedAsPureDataParallelism_BecauseAReplicaDoesNotFit()
    {
        foreach (var goal in new[] { AdviceGoal.Latency, AdviceGoal.Throughput })
        {
            var advice = Advise("llama-2-70b", 8, "H100", goal);
            Assert.True(advice.AnyFits);
            Assert.NotEqual(8, advice.Plans[0].Plan.Data);
            var dp8 = advice.Plans.Single(p => p.Plan.Data == 8);
            Assert.False(dp8.Prediction.Fits);
            Assert.True(dp8.Prediction.BytesPerDevice > 137_000_000_000L);
        }
    }

    [Fact]
    public void A70BModelOn2L4s_DoesNotFitAtAll_AndSaysSo()
    {
        var advice = Advise("llama-2-70b", 2, "L4", AdviceGoal.Latency);

        Assert.False(advice.AnyFits);
        Assert.All(advice.Plans, p => Assert.False(p.Prediction.Fits));
        Assert.Contains("no plan fits", advice.ToText());
    }

    [Fact]
    public void An8BModelOn8H100s_UsesDataParallelismForThroughput_AndTensorParallelismForLatency()
    {
        var throughput = Advise("llama-3-8b", 8, "H100", AdviceGoal.Throughput).Plans[0].Plan;
        var latency = Advise("llama-3-8b", 8, "H100", AdviceGoal.Latency).Plans[0].Plan;

        Assert.Equal(8, throughput.Data);
        Assert.True(latency.Tensor > 1, $"latency advised {latency}");
        Assert.Equal(1, latency.Pipeline);
    }

    [Fact]
    public void MixtralOn64Gpus_IsOfferedExpertParallelPlans_AndTheSeedsPlansArePredicted()
    {
        ParallelPlan[] seeds = [new(Expert: 8, Tensor: 8), new(Expert: 8, Tensor: 4, Data: 2), new(Expert: 8, Pipeline: 2, Tensor: 4, MicroBatches: 8)];
        var advice = Advise("mixtral-8x7b", 64, "H100", AdviceGoal.Throughput, seeds);

        Assert.Contains(advice.Plans.Take(5), p => p.Plan.Expert > 1);
        foreach (var seed in seeds)
        {
            var ranked = Assert.Single(advice.Plans, p => p.Asked && p.Plan.Expert == seed.Expert && p.Plan.Tensor == seed.Tensor && p.Plan.Data == seed.Data && p.Plan.Pipeline == seed.Pipeline);
            Assert.True(ranked.Prediction.Fits);
            Assert.True(ranked.Prediction.TokensPerSecond > 0 && ranked.Prediction.TpotSeconds > 0 && ranked.Prediction.TtftSeconds > 0);
        }
        // Each GPU of EP8 x TP8 holds 1/64 of the experts: about 0.7 GB of them in BF16, plus its share of attention.
        var ep8tp8 = advice.Plans.Single(p => p.Asked && p.Plan.Tensor == 8).Prediction;
        Assert.InRange(ep8tp8.WeightBytesPerDevice, 1_000_000_000L, 2_500_000_000L);
    }

    [Fact]
    public void Llama3On64Gpus_TheSeedsPlansAppearWithTheirPredictions()
    {
        ParallelPlan[] seeds = [new(Pipeline: 8, Tensor: 8, MicroBatches: 8), new(Pipeline: 4, Tensor: 4, Data: 4, MicroBatches: 4), new(Data: 8, Tensor: 8)];
        var advice = Advise("llama-3-8b", 64, "H100", AdviceGoal.Latency, seeds);

        Assert.Equal(3, advice.Plans.Count(p => p.Asked));
        var pp8 = advice.Plans.Single(p => p.Asked && p.Plan.Pipeline == 8).Prediction;
        Assert.Equal(7.0 / 15, pp8.Bubble, 6);              // (p - 1) / (m + p - 1)
        Assert.Equal("InfiniBand NDR", pp8.Links["pp"]);   // 8 stages of 8 GPUs: the stages cross nodes
        Assert.Equal("NVLink 4", pp8.Links["tp"]);
    }

    [Theory]
    [InlineData("B200")] [InlineData("b100")] [InlineData("H200")] [InlineData("h100")] [InlineData("A100-80GB")]
    [InlineData("a100-40gb")] [InlineData("L40S")] [InlineData("L40")] [InlineData("l4")] [InlineData("V100-16GB")]
    public void EveryCatalogueGpu_IsFoundByName_WithItsFiguresAndLinks(string name)
    {
        var gpu = GpuCatalogue.Find(name);
        Assert.Equal(name, gpu.Name, ignoreCase: true);
        Assert.True(gpu.MemoryBytes >= 16_000_000_000L && gpu.BandwidthBytesPerSecond > 2e11 && gpu.Bf16Flops > 1e13);
        Assert.True(gpu.IntraNodeLink.BandwidthBytesPerSecond > 1e10 && gpu.InterNodeLink.LatencySeconds > 0);
        Assert.False(string.IsNullOrEmpty(gpu.Source));
    }

    [Fact]
    public void AdviseJson_ListsEveryValidPlanBestFirst_WithThePredictedFigures()
    {
        var result = Run("advise", "--checkpoint", DryRunPlanTests.Config("llama-3-8b"), "--gpus", "8", "--gpu", "h100", "--goal", "throughput", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var plans = JsonNode.Parse(result.Out)!["plans"]!.AsArray();
        Assert.True(plans.Count >= 10);
        foreach (var key in new[] { "dp", "tp", "pp", "ep", "sp", "micro_batches", "bytes_per_device", "fits", "ttft_ms", "tpot_ms", "tokens_per_s" })
            Assert.All(plans, p => Assert.NotNull(p![key]));
        var throughputs = plans.Where(p => (bool)p!["fits"]!).Select(p => (double)p!["tokens_per_s"]!).ToList();
        Assert.Equal(throughputs.OrderByDescending(t => t), throughputs);
    }

    [Fact]
    public void AdviseSvg_DrawsTheRankedPlans()
    {
        string path = Path.Combine(Path.GetTempPath(), "tessera-advice-" + Guid.NewGuid().ToString("N") + ".svg");
        try
        {
            var result = Run("advise", "--checkpoint", DryRunPlanTests.Config("mixtral-8x7b"), "--gpus", "16", "--gpu", "H200", "--svg", path);
            Assert.True(result.ExitCode == 0, result.ToString());
            string svg = File.ReadAllText(path);
            Assert.StartsWith("<svg", svg);
            Assert.Contains("memory per device", svg);
            Assert.Contains("EP", svg);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AnUnknownGpu_FailsWithOneLineListingTheCatalogue()
    {
        var result = Run("advise", "--checkpoint", DryRunPlanTests.Config("llama-3-8b"), "--gpus", "8", "--gpu", "H300");

        AssertFailsWith(result, "H300", "B200", "V100-16GB");
    }

    [Fact]
    public void AnAskedPlanOfTheWrongSize_FailsWithOneLine()
    {
        var result = Run("advise", "--checkpoint", DryRunPlanTests.Config("llama-3-8b"), "--gpus", "8", "--gpu", "H100", "--tp", "4");

        AssertFailsWith(result, "4 devices but the cluster 8");
    }
}
