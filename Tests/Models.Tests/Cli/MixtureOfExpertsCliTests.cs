using System.Text.Json.Nodes;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// The mixture of experts through the command line: <c>logits</c> and <c>generate</c> on the bundled tiny Mixtral, on
/// one device and under every expert-parallel plan, give the reference; <c>plan</c> reports the router's load; bad
/// expert plans and a missing expert fail with one line.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class MixtureOfExpertsCliTests
{
    public static TheoryData<string> Plans => new() { "", "--ep 2", "--ep 4", "--ep 2 --tp 2", "--ep 2 --pp 3", "--ep 2 --dp 2", "--engine Specialised" };

    private static string[] Args(params string[] head) => head.Where(a => a.Length > 0).ToArray();

    [Theory]
    [MemberData(nameof(Plans))]
    public void Logits_OnTinyMixtral_MatchTheReference(string plan)
    {
        using var scratch = new ScratchCheckpoint();
        var reference = Reference("tiny-mixtral");

        var result = Run(Args(["logits", "--checkpoint", Bundled("tiny-mixtral"), "--tokens", Ids(reference.Tokens), "--out", scratch.OutPath, .. plan.Split(' ')]));

        Assert.True(result.ExitCode == 0, result.ToString());
        float[] actual = SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), expected = reference.Logits.Floats();
        Assert.True(Fixtures.RelativeError(actual, expected) <= 1e-4, $"{plan}: {Fixtures.RelativeError(actual, expected):E2}");
    }

    [Theory]
    [MemberData(nameof(Plans))]
    public void Generate_OnTinyMixtral_PrintsTheReferenceGreedyIds(string plan)
    {
        var reference = Reference("tiny-mixtral");

        var result = Run(Args(["generate", "--checkpoint", Bundled("tiny-mixtral"), "--tokens", Ids(reference.Tokens), "-n", "16", .. plan.Split(' ')]));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(Ids(reference.Greedy), result.Out.Trim());
    }

    [Fact]
    public void Plan_ReportsTheExpertMap_AndTheRoutersLoad()
    {
        var result = Run("plan", "--checkpoint", Bundled("tiny-mixtral"), "--ep", "2", "--tp", "2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Mixtral on ep2 x tp2 (4 devices)", result.Out);
        Assert.Contains("experts", result.Out.Split('\n')[3]);  // the device table's header has an experts column
        Assert.Contains("expert all-to-all", result.Out);
        Assert.Contains("expert load: tokens routed to each expert", result.Out);
        Assert.Contains("imbalance (max/mean)", result.Out);
    }

    [Fact]
    public void PlanJson_GivesTheDevices_AndTheLoadPerExpertAndPerRank_AsData()
    {
        var result = Run("plan", "--checkpoint", Bundled("tiny-mixtral"), "--ep", "2", "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonNode.Parse(result.Out)!;
        Assert.Equal(2, (int)json["plan"]!["ep"]!);
        var devices = json["devices"]!.AsArray();
        Assert.Equal([0, 1], devices.Select(d => (int)d!["expert_rank"]!));
        Assert.All(devices, d => Assert.True((long)d!["weight_bytes"]! > 0));
        var load = json["expert_load"]!;
        Assert.Equal(4, (int)load["experts"]!);
        // Every token of the sample is routed to 2 experts in each of the 3 layers.
        int tokens = (int)json["sample"]!["sequences"]! * (int)json["sample"]!["tokens_per_sequence"]!;
        Assert.Equal(tokens * 2 * 3, load["total"]!["tokens_per_expert"]!.AsArray().Sum(c => (long)c!));
        Assert.Equal(tokens * 2 * 3, load["total"]!["tokens_per_rank"]!.AsArray().Sum(c => (long)c!));
        Assert.InRange((double)load["total"]!["imbalance"]!, 1.0, 4.0);
        Assert.Equal(3, load["layers"]!.AsArray().Count);
    }

    [Theory]
    [InlineData("3", "ep = 3 does not divide the 4 experts of Mixtral; degrees that work: 1, 2, 4")]
    [InlineData("8", "ep = 8 does not divide the 4 experts of Mixtral; degrees that work: 1, 2, 4")]
    [InlineData("0", "the expert-parallel degree must be at least 1")]
    public void AnExpertDegreeThatCannotSplitTheExperts_FailsWithOneLine(string ep, string message)
    {
        var result = Run("logits", "--checkpoint", Bundled("tiny-mixtral"), "--tokens", "1,2,3", "--out", "never.safetensors", "--ep", ep);

        Assert.Contains(message, AssertFailsWith(result));
        Assert.False(File.Exists("never.safetensors"));
    }

    [Fact]
    public void ExpertParallelismOnADenseModel_FailsWithOneLine()
    {
        var result = Run("generate", "--checkpoint", Bundled("tiny-llama"), "--tokens", "1,2,3", "--ep", "2");

        Assert.Contains("ep = 2 but Llama has no experts", AssertFailsWith(result));
    }

    [Fact]
    public void AMissingExpertWeight_FailsWithOneLineNamingTheTensor()
    {
        using var scratch = new ScratchCheckpoint("tiny-mixtral");
        SafetensorsFixture.Rewrite(scratch.ModelPath, tensors => tensors.Where(t => t.Name != "model.layers.1.block_sparse_moe.experts.3.w2.weight"));

        var result = Run("logits", "--checkpoint", scratch.Directory, "--tokens", "1,2,3", "--out", scratch.OutPath, "--ep", "2");

        Assert.Contains("model.layers.1.block_sparse_moe.experts.3.w2.weight", AssertFailsWith(result));
        Assert.False(File.Exists(scratch.OutPath));
    }

    [Fact]
    public void AnExpertWeightOfTheWrongShape_FailsWithOneLineNamingTheShapes()
    {
        using var scratch = new ScratchCheckpoint("tiny-mixtral");
        SafetensorsFixture.Rewrite(scratch.ModelPath, tensors => tensors.Select(t => t.Name == "model.layers.0.block_sparse_moe.experts.0.w1.weight"
            ? t with { Shape = [64, 128] } : t));

        var result = Run("logits", "--checkpoint", scratch.Directory, "--tokens", "1,2,3", "--out", scratch.OutPath);

        string line = AssertFailsWith(result, "model.layers.0.block_sparse_moe.experts.0.w1.weight");
        Assert.Contains("[64, 128]", line);
    }

    [Fact]
    public void ATopKAboveTheExperts_InTheConfig_FailsWithOneLine()
    {
        using var scratch = new ScratchCheckpoint("tiny-mixtral");
        scratch.EditConfig("num_experts_per_tok", 5);

        var result = Run("logits", "--checkpoint", scratch.Directory, "--tokens", "1,2,3", "--out", scratch.OutPath);

        Assert.Contains("top-k routing needs at least 1 and at most the layer's ExpertCount = 4", AssertFailsWith(result));
    }

    [Fact]
    public void TheGpuBackEnd_RefusesExpertParallelism_WithOneLine()
    {
        var result = Run("logits", "--checkpoint", Bundled("tiny-mixtral"), "--tokens", "1,2,3", "--out", "never.safetensors", "--ep", "2", "--devices", "ilgpu-cpu:2");

        Assert.Contains("does not run expert parallelism yet", AssertFailsWith(result));
    }
}
