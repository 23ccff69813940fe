using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Xunit.Abstractions;

namespace Tessera.Models.Tests.Families;

/// <summary>
/// The fp64 reference forward reproduces every bundled fixture's independent outputs (logits within 1e-5 of the
/// largest logit per row, the greedy continuation and the MoE expert counts exactly), and its RoPE scalings, which
/// no fixture but llama3 covers, follow Hugging Face's formulas worked by hand.
/// </summary>
public sealed class HfReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-5;

    public static TheoryData<string> EveryFixture => new()
    {
        "tiny-llama", "tiny-mixtral", "tiny-llama31", "tiny-qwen2", "tiny-qwen3", "tiny-qwen3-moe",
        "tiny-qwen2-moe", "tiny-mistral", "tiny-gemma2", "tiny-gemma3", "tiny-phi3",
    };

    public static TheoryData<string> MixtureOfExpertsFixtures => new() { "tiny-mixtral", "tiny-qwen3-moe", "tiny-qwen2-moe" };

    [Theory]
    [MemberData(nameof(EveryFixture))]
    public void TheLogitsAfterEachPromptToken_MatchTheFixture_WithinOnePartInAHundredThousandOfTheLargestLogit(string fixture)
    {
        var expected = Fixtures.Load(fixture);
        var reference = HfReference.Load(Fixtures.Directory(fixture));

        double[][] rows = reference.Logits(expected.Tokens);

        Assert.Equal(expected.Tokens.Length, rows.Length);
        double worst = Enumerable.Range(0, rows.Length).Max(t => RowError(rows[t], expected.Row(t)));
        output.WriteLine($"{fixture}: worst row max|a-b|/max|ref| = {worst:E2}");
        Assert.True(worst <= Tolerance, $"{fixture}: max|a-b|/max|ref| = {worst:E3}");
    }

    [Theory]
    [MemberData(nameof(EveryFixture))]
    public void TheGreedyContinuationOfThePrompt_IsTheFixtures(string fixture)
    {
        var expected = Fixtures.Load(fixture);
        var reference = HfReference.Load(Fixtures.Directory(fixture));

        Assert.Equal(expected.Greedy, reference.Greedy(expected.Tokens, expected.Greedy.Length));
    }

    [Theory]
    [MemberData(nameof(MixtureOfExpertsFixtures))]
    public void TheExpertsChosenOverThePromptAndTheFirstFifteenGreedyTokens_CountAsTheFixturesDo(string fixture)
    {
        var expected = Fixtures.Load(fixture);
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Directory(fixture), "reference.safetensors"));
        int[] counts = file.ReadInt32("expert_counts");
        long[] shape = file.Entries["expert_counts"].Shape;
        var reference = HfReference.Load(Fixtures.Directory(fixture));

        reference.Greedy(expected.Tokens, expected.Greedy.Length);   // feeds 24 prompt tokens, then 15 generated ones

        var actual = reference.ExpertCounts;
        Assert.Equal(shape, new long[] { actual.GetLength(0), actual.GetLength(1) });
        Assert.Equal(counts, actual.Cast<int>().ToArray());
    }

    [Fact]
    public void ExpertCounts_AddUpOverCalls_EachPositionOnce_AndStayZeroForADenseModel()
    {
        var expected = Fixtures.Load("tiny-qwen2-moe");
        var reference = HfReference.Load(Fixtures.Directory("tiny-qwen2-moe"));

        reference.Logits(expected.Tokens);
        var once = reference.ExpertCounts;
        reference.Logits(expected.Tokens);

        // 3 layers, top-4 of 8 experts: each position counts 4 per layer.
        Assert.All(Enumerable.Range(0, 3), layer => Assert.Equal(4 * 24, Enumerable.Range(0, 8).Sum(e => once[layer, e])));
        Assert.Equal(once.Cast<int>().Select(n => 2 * n), reference.ExpertCounts.Cast<int>());

        var dense = HfReference.Load(Fixtures.Directory("tiny-llama"));
        dense.Logits(expected.Tokens);
        Assert.Equal(4, dense.ExpertCounts.GetLength(0));   // [layers, 0]
        Assert.Equal(0, dense.ExpertCounts.GetLength(1));
    }

    [Fact]
    public void Mistral_WithItsWindowRemovedThroughTheConfig_GivesTheFixturesNoWindowLogits()
    {
        var expected = Fixtures.Load("tiny-mistral");
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Directory("tiny-mistral"), "reference.safetensors"));
        float[] noWindow = file.ReadFloats("logits_nowindow");
        var reference = HfReference.Load(Fixtures.Directory("tiny-mistral"), json => json["sliding_window"] = null);

        double[][] rows = reference.Logits(expected.Tokens);

        double worst = Enumerable.Range(0, rows.Length).Max(t => RowError(rows[t], noWindow.AsSpan(t * expected.Vocab, expected.Vocab)));
        output.WriteLine($"tiny-mistral logits_nowindow: worst row max|a-b|/max|ref| = {worst:E2}");
        Assert.True(worst <= Tolerance, $"max|a-b|/max|ref| = {worst:E3}");
    }

    // ---------------------------------------------------------------- RoPE, worked by hand

    [Fact]
    public void Yarn_KeepsTheFastestFrequency_BlendsTheNext_DividesTheSlowerOnesByTheFactor_AndSetsTheAttentionFactor()
    {
        // head_dim 16, theta 10000, factor 4, original 32, beta_fast 32, beta_slow 1 (defaults), truncate (default):
        // correction dim(n) = 16 ln(32 / (2 pi n)) / (2 ln 10000): n = 32 gives -1.596 -> floor -2 -> clamped to 0,
        // n = 1 gives 1.414 -> ceil 2. Ramp over j = 0..7: (j - 0) / 2 clamped = 0, 0.5, 1, 1, ...; the extrapolation
        // share 1 - ramp = 1, 0.5, 0, ...; inv_j = base_j * (share + (1 - share) / 4).
        var rope = HfReference.Rotary.Create(16, 1.0, 10000, Scaling("""{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}"""), 128);

        double Base(int j) => Math.Pow(10000, -2.0 * j / 16);
        double[] expected = [1.0, 0.625 * Base(1), Base(2) / 4, Base(3) / 4, Base(4) / 4, Base(5) / 4, Base(6) / 4, Base(7) / 4];
        Assert.Equal(16, rope.Dim);
        AssertClose(expected, rope.InverseFrequencies);
        Assert.Equal(0.19764235376052372, rope.InverseFrequencies[1], 1e-15);
        Assert.Equal(1 + 0.1 * Math.Log(4), rope.AttentionFactor, 1e-15);   // get_mscale(4) = 1.1386
    }

    [Fact]
    public void Yarn_WithoutTruncation_UsesTheUnroundedRange_TheConfigsContext_AndTheMscaleRatio()
    {
        // No original_max_position_embeddings in rope_scaling: max_position_embeddings (64) is used. beta_fast 16,
        // beta_slow 2, truncate false: low = max(16 ln(64 / (32 pi)) / (2 ln 10000), 0) = max(-0.392, 0) = 0,
        // high = 16 ln(64 / (4 pi)) / (2 ln 10000) = 1.41394 (not rounded up). Ramp: 0, 1/1.41394, 1, ...
        var rope = HfReference.Rotary.Create(16, 1.0, 10000, Scaling("""
            {"type": "yarn", "factor": 40.0, "beta_fast": 16, "beta_slow": 2, "truncate": false, "mscale": 0.707, "mscale_all_dim": 1.0}
            """), 64);

        double high = 16 * Math.Log(64 / (4 * Math.PI)) / (2 * Math.Log(10000));
        Assert.Equal(1.41394, high, 1e-5);
        double share1 = 1 - 1 / high;
        double Base(int j) => Math.Pow(10000, -2.0 * j / 16);
        double[] expected = [1.0, Base(1) * (share1 + (1 - share1) / 40), Base(2) / 40, Base(3) / 40, Base(4) / 40, Base(5) / 40, Base(6) / 40, Base(7) / 40];
        AssertClose(expected, rope.InverseFrequencies);
        // attention factor = get_mscale(40, 0.707) / get_mscale(40, 1.0)
        Assert.Equal((0.1 * 0.707 * Math.Log(40) + 1) / (0.1 * Math.Log(40) + 1), rope.AttentionFactor, 1e-15);
        Assert.Equal(0.92104235531633990, rope.AttentionFactor, 1e-12);
    }

    [Fact]
    public void Yarn_TakesAnExplicitAttentionFactor_AsItIs()
    {
        var rope = HfReference.Rotary.Create(16, 1.0, 10000, Scaling("""{"rope_type": "yarn", "factor": 4.0, "attention_factor": 0.5}"""), 64);

        Assert.Equal(0.5, rope.AttentionFactor);
    }

    [Fact]
    public void Yarn_ScalesCosAndSin_SoPositionZeroMultipliesTheRotatedDimsByTheAttentionFactor()
    {
        var rope = HfReference.Rotary.Create(8, 0.5, 10000, Scaling("""{"rope_type": "yarn", "factor": 4.0}"""), 64);
        double[] x = [1, 2, 3, 4, 5, 6, 7, 8];

        rope.Apply(x, heads: 1, headDim: 8, position: 0);

        double a = 1 + 0.1 * Math.Log(4);
        AssertClose([1 * a, 2 * a, 3 * a, 4 * a, 5, 6, 7, 8], x);
    }

    [Fact]
    public void LinearScaling_DividesEveryFrequencyByTheFactor()
    {
        var rope = HfReference.Rotary.Create(8, 1.0, 500000, Scaling("""{"type": "linear", "factor": 2.5}"""), 64);

        AssertClose([1 / 2.5, Math.Pow(500000, -0.25) / 2.5, Math.Pow(500000, -0.5) / 2.5, Math.Pow(500000, -0.75) / 2.5], rope.InverseFrequencies);
        Assert.Equal(1.0, rope.AttentionFactor);
    }

    [Fact]
    public void PartialRotary_RotatesTheFirstIntHeadDimTimesFactorDimsOfEachHead_InPairsJAndJPlusHalf_AndPassesTheRest()
    {
        // head_dim 10, partial 0.45: rotary dim = int(4.5) = 4, inv_j = 100^(-2j/4) = 1, 0.1; pairs (0, 2), (1, 3).
        var rope = HfReference.Rotary.Create(10, 0.45, 100, null, 64);
        Assert.Equal(4, rope.Dim);
        AssertClose([1.0, 0.1], rope.InverseFrequencies);

        double[] x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, /* second head */ 11, 12, 13, 14, 15, 16, 17, 18, 19, 20];
        rope.Apply(x, heads: 2, headDim: 10, position: 3);

        double c0 = Math.Cos(3), s0 = Math.Sin(3), c1 = Math.Cos(0.3), s1 = Math.Sin(0.3);
        AssertClose([
            1 * c0 - 3 * s0, 2 * c1 - 4 * s1, 3 * c0 + 1 * s0, 4 * c1 + 2 * s1, 5, 6, 7, 8, 9, 10,
            11 * c0 - 13 * s0, 12 * c1 - 14 * s1, 13 * c0 + 11 * s0, 14 * c1 + 12 * s1, 15, 16, 17, 18, 19, 20,
        ], x);
    }

    [Theory]
    [InlineData("""{"rope_type": "longrope", "short_factor": [1.0], "long_factor": [1.0]}""")]
    [InlineData("""{"type": "dynamic", "factor": 2.0}""")]
    public void ARopeTypeItDoesNotImplement_IsRefused(string scaling)
    {
        Assert.Throws<NotSupportedException>(() => HfReference.Rotary.Create(16, 1.0, 10000, Scaling(scaling), 64));
    }

    [Fact]
    public void AConfigWithoutScalingOrWithTheDefaultType_IsPlainRope()
    {
        var plain = HfReference.Rotary.Create(8, 1.0, 10000, null, 64);
        var named = HfReference.Rotary.Create(8, 1.0, 10000, Scaling("""{"rope_type": "default"}"""), 64);

        AssertClose([1, 0.1, 0.01, 0.001], plain.InverseFrequencies);
        AssertClose(plain.InverseFrequencies, named.InverseFrequencies);
    }

    // ---------------------------------------------------------------- helpers

    private static JsonObject Scaling(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static void AssertClose(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-14 * Math.Max(1, Math.Abs(expected[i])), $"[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>max |a - b| / max |ref| over one row: the fixtures' acceptance metric.</summary>
    private static double RowError(double[] actual, ReadOnlySpan<float> reference)
    {
        Assert.Equal(reference.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxDiff / maxRef;
    }
}
