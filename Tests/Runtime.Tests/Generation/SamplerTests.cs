using Tessera.Generation;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>The sampler: greedy ties, seeded reproducibility, top-k, top-p, temperature, and the drawn frequencies.</summary>
public sealed class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.0f, 3.0f, -1.0f, 0.5f, 2.5f, -4.0f];

    [Fact]
    public void Greedy_PicksTheFirstIndexOfTheMaximum()
    {
        Assert.Equal(1, new Sampler(SamplingOptions.Greedy).Sample(Logits));
        Assert.Equal(1, Sampler.ArgMax(Logits));
        Assert.Equal(2, Sampler.ArgMax([float.NaN, 1, 5, 5]));
    }

    [Fact]
    public void TheSameSeed_GivesTheSameDraws_AndAnotherSeedOthers()
    {
        var options = new SamplingOptions { Temperature = 1.5f, Seed = 42 };
        int[] Draw(SamplingOptions o)
        {
            var sampler = new Sampler(o);
            return Enumerable.Range(0, 200).Select(_ => sampler.Sample(Logits)).ToArray();
        }

        Assert.Equal(Draw(options), Draw(options));
        Assert.NotEqual(Draw(options), Draw(options with { Seed = 43 }));
    }

    [Fact]
    public void TopKOfOne_EqualsGreedy_AtAnyTemperature()
    {
        var random = new Random(7);
        var sampler = new Sampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 1 });
        for (int trial = 0; trial < 100; trial++)
        {
            var logits = Enumerable.Range(0, 50).Select(_ => (float)random.NextDouble() * 4).ToArray();
            Assert.Equal(Sampler.ArgMax(logits), sampler.Sample(logits));
        }
    }

    [Fact]
    public void TopK_KeepsOnlyTheKMostLikely()
    {
        var probabilities = new Sampler(new SamplingOptions { Temperature = 1, TopK = 3 }).Distribution(Logits);

        // Logits 3.0 (ids 1 and 3) and 2.5 (id 6) are the top three.
        Assert.Equal([1, 3, 6], Enumerable.Range(0, Logits.Length).Where(i => probabilities[i] > 0));
        Assert.Equal(1.0, probabilities.Sum(), 12);
    }

    [Fact]
    public void TopP_CutsTheTail_KeepingTheSmallestSetThatReachesP()
    {
        // softmax([4, 3, 0, -2]) = [0.7216, 0.2655, 0.0132, 0.0018]: the top two reach 0.9, the top one does not.
        float[] logits = [0, 4, -2, 3];
        var probabilities = new Sampler(new SamplingOptions { Temperature = 1, TopP = 0.9f }).Distribution(logits);

        Assert.Equal(0, probabilities[0]);
        Assert.Equal(0, probabilities[2]);
        Assert.Equal(Math.E / (Math.E + 1), probabilities[1], 9);
        Assert.Equal(1 / (Math.E + 1), probabilities[3], 9);

        var sampler = new Sampler(new SamplingOptions { Temperature = 1, TopP = 0.9f, Seed = 3 });
        Assert.All(Enumerable.Range(0, 2000).Select(_ => sampler.Sample(logits)), id => Assert.Contains(id, new[] { 1, 3 }));
    }

    [Fact]
    public void TopP_AlwaysKeepsTheMostLikelyToken()
    {
        var probabilities = new Sampler(new SamplingOptions { Temperature = 1, TopP = 1e-6f }).Distribution(Logits);

        Assert.Equal(1.0, probabilities[1]);
    }

    [Theory]
    [InlineData(1e-3f)]
    [InlineData(1e-6f)]
    public void ATemperatureNearZero_BehavesAsGreedy_WithoutOverflow(float temperature)
    {
        var random = new Random(11);
        var sampler = new Sampler(new SamplingOptions { Temperature = temperature, Seed = 5 });
        for (int trial = 0; trial < 100; trial++)
        {
            // Logits far from zero: exp(l / T) would overflow without subtracting the maximum first.
            var logits = Enumerable.Range(0, 64).Select(_ => 1000 + (float)random.NextDouble() * 10).ToArray();
            Assert.Equal(Sampler.ArgMax(logits), sampler.Sample(logits));
        }
    }

    [Fact]
    public void Draws_FollowTheSoftmaxOfTheLogitsOverTheTemperature()
    {
        const int draws = 200_000;
        float[] logits = [0, 1, 2, 0.5f, -1];
        const float temperature = 0.8f;
        var sampler = new Sampler(new SamplingOptions { Temperature = temperature, Seed = 2024 });
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;

        var weights = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        for (int v = 0; v < logits.Length; v++)
        {
            double expected = weights[v] / weights.Sum();
            double sigma = Math.Sqrt(expected * (1 - expected) / draws);
            Assert.True(Math.Abs(counts[v] / (double)draws - expected) < 5 * sigma, $"token {v}: {counts[v] / (double)draws:F4} drawn, {expected:F4} expected");
        }
    }

    [Fact]
    public void Draws_WithTopK_FollowTheRenormalisedDistribution()
    {
        const int draws = 100_000;
        float[] logits = [0, 1, 2, 0.5f, -1];
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, TopK = 2, Seed = 9 });
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(logits)]++;

        Assert.Equal(draws, counts[1] + counts[2]);
        double expected = Math.E / (Math.E + 1); // p(2) among {1, 2}
        Assert.InRange(counts[2] / (double)draws, expected - 0.01, expected + 0.01);
    }

    [Theory]
    [InlineData(-0.1f, 0, 1f, 1, "temperature")]
    [InlineData(1f, -1, 1f, 1, "top_k")]
    [InlineData(1f, 0, 0f, 1, "top_p")]
    [InlineData(1f, 0, 1.5f, 1, "top_p")]
    [InlineData(1f, 0, 1f, 0, "max tokens")]
    public void OptionsOutOfRange_AreRefusedNamingTheOption(float temperature, int topK, float topP, int maxTokens, string name)
    {
        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, MaxTokens = maxTokens };

        var error = Assert.ThrowsAny<ArgumentException>(() => new Sampler(options));
        Assert.Contains(name, error.Message);
    }

    [Fact]
    public void AConstraint_MasksWhatItForbids_AndTakesEachDrawnToken()
    {
        var rule = new OnlyEvenIds();
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, Seed = 3, Constraint = () => rule });
        for (int i = 0; i < 50; i++) Assert.Equal(0, sampler.Sample(Logits.ToArray()) % 2);
        Assert.Equal(50, rule.Taken.Count);
        Assert.All(rule.Taken, id => Assert.Equal(0, id % 2));
        Assert.Equal(6, new Sampler(new SamplingOptions { Constraint = () => new OnlyEvenIds() }).Sample(Logits.ToArray()));
    }

    /// <summary>A rule that allows the even ids only.</summary>
    private sealed class OnlyEvenIds : ITokenConstraint
    {
        public List<int> Taken { get; } = [];

        public void Mask(Span<float> logits, int tokensLeft)
        {
            for (int id = 1; id < logits.Length; id += 2) logits[id] = float.NegativeInfinity;
        }

        public void Accept(int token) => Taken.Add(token);

        public bool IsComplete => true;
    }
}
