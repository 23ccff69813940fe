using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Sequence parallelism and tensor parallelism at real shapes through the command line: <c>logits</c> and
/// <c>generate</c> on every bundled model give the reference under sp2, sp3, sp4, sp2 x tp2 and sp2 x pp2.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class PlanShapesCliTests
{
    public static TheoryData<string, string> SequencePlans()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in new[] { "tiny-llama", "tiny-gpt2", "tiny-mixtral" })
            foreach (var plan in new[] { "--sp 2", "--sp 3", "--sp 4", "--sp 2 --tp 2", "--sp 2 --pp 2" })
                data.Add(model, plan);
        return data;
    }

    [Theory]
    [MemberData(nameof(SequencePlans))]
    public void Logits_UnderSequenceParallelism_MatchTheReference(string model, string plan)
    {
        using var scratch = new ScratchCheckpoint();
        var reference = Reference(model);

        var result = Run(["logits", "--checkpoint", Bundled(model), "--tokens", Ids(reference.Tokens), "--out", scratch.OutPath, .. plan.Split(' ')]);

        Assert.True(result.ExitCode == 0, result.ToString());
        float[] actual = SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), expected = reference.Logits.Floats();
        Assert.True(Fixtures.RelativeError(actual, expected) <= 1e-4, $"{model} {plan}: {Fixtures.RelativeError(actual, expected):E2}");
    }

    [Theory]
    [MemberData(nameof(SequencePlans))]
    public void Generate_UnderSequenceParallelism_PrintsTheReferenceGreedyIds(string model, string plan)
    {
        var reference = Reference(model);

        var result = Run(["generate", "--checkpoint", Bundled(model), "--tokens", Ids(reference.Tokens), "-n", "16", .. plan.Split(' ')]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(Ids(reference.Greedy), result.Out.Trim());
    }

    [Fact]
    public void Plan_UnderSequenceParallelism_ShowsTheSequenceRanksAndTheirShareOfTheCache()
    {
        var result = Run("plan", "--checkpoint", Bundled("tiny-llama"), "--sp", "2", "--tp", "2");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Llama on sp2 x tp2 (4 devices)", result.Out);
        Assert.Contains("sequence", result.Out.Split('\n')[3]);
        Assert.Contains("sequence attention", result.Out);
    }

    [Fact]
    public void SequenceParallelism_OnTheCudaBackEnd_FailsWithOneLine()
    {
        var result = Run("logits", "--checkpoint", Bundled("tiny-llama"), "--tokens", "1,2,3", "--out", "never.safetensors", "--sp", "2", "--devices", "cuda-emulator:2");

        Assert.Contains("does not run sequence parallelism yet", AssertFailsWith(result));
    }
}
