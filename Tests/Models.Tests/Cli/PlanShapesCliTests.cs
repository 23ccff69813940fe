using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Sequence parallelism and tensor parallelism at real shapes through the command line: <c>logits</c> and
/// <c>generate</c> on every bundled model give the reference under sp2, sp3, sp4, sp2 x tp2 and sp2 x pp2, and at tensor
/// degrees past the key/value heads or not dividing the vocabulary.
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

    public static TheoryData<string, string> TensorPlans => new()
    {
        { "tiny-llama", "--tp 8" },              // 8 query heads, 4 KV heads: each rank replicates one KV head
        { "tiny-llama", "--tp 8 --pp 2" },
        { "tiny-mixtral", "--tp 8" },
        { "tiny-mixtral", "--tp 8 --ep 2" },
    };

    [Theory]
    [MemberData(nameof(TensorPlans))]
    public void LogitsAndGenerate_AtATensorDegreePastTheKeyValueHeads_GiveTheReference(string model, string plan)
    {
        using var scratch = new ScratchCheckpoint();
        var reference = Reference(model);

        var logits = Run(["logits", "--checkpoint", Bundled(model), "--tokens", Ids(reference.Tokens), "--out", scratch.OutPath, .. plan.Split(' ')]);
        var generate = Run(["generate", "--checkpoint", Bundled(model), "--tokens", Ids(reference.Tokens), "-n", "16", .. plan.Split(' ')]);

        Assert.True(logits.ExitCode == 0, logits.ToString());
        float[] actual = SafetensorsFixture.Tensor(scratch.OutPath, "logits").Floats(), expected = reference.Logits.Floats();
        Assert.True(Fixtures.RelativeError(actual, expected) <= 1e-4, $"{model} {plan}: {Fixtures.RelativeError(actual, expected):E2}");
        Assert.Equal(Ids(reference.Greedy), generate.Out.Trim());
    }

    [Fact]
    public void Logits_AtATensorDegreeThatDoesNotDivideTheVocabulary_EqualOneDevice()
    {
        // tiny-gpt2's weights with its vocabulary cut to 383 (a prime): every degree of its 4 heads leaves padding.
        using var scratch = new ScratchCheckpoint("tiny-gpt2");
        scratch.EditConfig("vocab_size", 383);
        SafetensorsFixture.Rewrite(scratch.ModelPath, tensors => tensors.Select(t => t.Name == "wte.weight"
            ? t with { Shape = [383, t.Shape[1]], Data = t.Data[..(383 * (int)t.Shape[1] * 4)] } : t));
        int[] tokens = Reference("tiny-gpt2").Tokens.Select(id => id % 383).ToArray();
        string one = Path.Combine(scratch.OutDirectory, "one.safetensors"), two = Path.Combine(scratch.OutDirectory, "tp2.safetensors"),
            four = Path.Combine(scratch.OutDirectory, "tp4.safetensors");

        Assert.Equal(0, Run("logits", "-c", scratch.Directory, "-t", Ids(tokens), "-o", one).ExitCode);
        Assert.Equal(0, Run("logits", "-c", scratch.Directory, "-t", Ids(tokens), "-o", two, "--tp", "2").ExitCode);
        Assert.Equal(0, Run("logits", "-c", scratch.Directory, "-t", Ids(tokens), "-o", four, "--tp", "4", "--sp", "2").ExitCode);

        var expected = SafetensorsFixture.Tensor(one, "logits");
        Assert.Equal([24L, 383L], expected.Shape);
        foreach (var path in new[] { two, four })
        {
            var actual = SafetensorsFixture.Tensor(path, "logits");
            Assert.Equal(expected.Shape, actual.Shape);   // the padding columns never reach the output
            Assert.True(Fixtures.RelativeError(actual.Floats(), expected.Floats()) <= 1e-4);
        }
    }

    [Fact]
    public void ATensorDegreeThatDoesNotDivideTheQueryHeads_FailsWithTheDegreesThatWork()
    {
        var result = Run("logits", "--checkpoint", Bundled("tiny-gpt2"), "--tokens", "1,2,3", "--out", "never.safetensors", "--tp", "3");

        string line = AssertFailsWith(result, "tp = 3 does not divide", "Heads = 4", "degrees that work: 1, 2, 4");
        Assert.DoesNotContain("Vocab", line);
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
    public void SequenceParallelism_OnTheGpuBackEnd_FailsWithOneLine()
    {
        var result = Run("logits", "--checkpoint", Bundled("tiny-llama"), "--tokens", "1,2,3", "--out", "never.safetensors", "--sp", "2", "--devices", "ilgpu-cpu:2");

        Assert.Contains("does not run sequence parallelism yet", AssertFailsWith(result));
    }
}
