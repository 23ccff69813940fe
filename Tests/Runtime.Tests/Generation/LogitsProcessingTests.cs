using Tessera.Generation;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>
/// What the sampler does to a row of logits before it draws: the logit bias, the repetition penalty over prompt and
/// output, OpenAI's frequency and presence penalties over the output; min-p's cut; and the log-probabilities it reports.
/// </summary>
public sealed class LogitsProcessingTests
{
    [Fact]
    public void FrequencyAndPresencePenalties_SubtractCountTimesFrequencyPlusPresence_ForGeneratedTokensOnly()
    {
        var sampler = new Sampler(new SamplingOptions { FrequencyPenalty = 0.5f, PresencePenalty = 0.25f }, prompt: [3]);
        // Greedy draws of 1, 1, 2 (each row makes its token the maximum).
        sampler.Sample(new float[] { 0, 9, 0, 0 });
        sampler.Sample(new float[] { 0, 9, 0, 0 });
        sampler.Sample(new float[] { 0, 0, 9, 0 });

        float[] row = [1, 1, 1, 1];
        sampler.Process(row);

        // Token 1: twice -> 1 - 2 * 0.5 - 0.25; token 2: once -> 1 - 0.5 - 0.25; 0 never; 3 only in the prompt.
        Assert.Equal([1f, -0.25f, 0.25f, 1f], row);
    }

    [Fact]
    public void RepetitionPenalty_DividesPositiveLogits_AndMultipliesNegativeOnes_OfPromptAndOutputTokens()
    {
        var sampler = new Sampler(new SamplingOptions { RepetitionPenalty = 2 }, prompt: [0, 1]);
        sampler.Sample(new float[] { 0, 0, 9, 0, 0 }); // generates 2

        float[] row = [4, -4, 3, 4, -4];
        sampler.Process(row);

        Assert.Equal([2f, -8f, 1.5f, 4f, -4f], row);
    }

    [Fact]
    public void LogitBias_IsAddedBeforeThePenalties()
    {
        var sampler = new Sampler(new SamplingOptions { LogitBias = new Dictionary<int, float> { [0] = 3, [2] = -100 }, RepetitionPenalty = 2 }, prompt: [0]);

        float[] row = [1, 1, 1];
        sampler.Process(row);

        Assert.Equal([2f, 1f, -99f], row); // (1 + 3) / 2: bias first, then the repetition penalty of prompt token 0
    }

    [Fact]
    public void ABiasOfMinus100_KeepsATokenFromEverBeingDrawn()
    {
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, Seed = 1, LogitBias = new Dictionary<int, float> { [1] = -100 } });
        for (int i = 0; i < 2000; i++) Assert.NotEqual(1, sampler.Sample(new float[] { 0, 5, 0.5f }));
        Assert.Equal(2, new Sampler(SamplingOptions.Greedy with { LogitBias = new Dictionary<int, float> { [1] = -100 } }).Sample(new float[] { 0, 5, 0.5f }));
    }

    [Fact]
    public void PenaltiesChangeGreedyChoices()
    {
        // Without a penalty greedy repeats token 0 forever; a presence penalty above the gap moves it to token 1.
        var sampler = new Sampler(SamplingOptions.Greedy with { PresencePenalty = 1 });
        Assert.Equal(0, sampler.Sample(new float[] { 2, 1.5f }));
        Assert.Equal(1, sampler.Sample(new float[] { 2, 1.5f }));
    }

    [Fact]
    public void MinP_KeepsTheTokensAtLeastMinPTimesAsLikelyAsTheMostLikely()
    {
        // At T = 1, p(i) / p(0) = e^(l_i - l_0): 1, e^-0.5 = 0.61, e^-1 = 0.37, e^-2 = 0.14.
        float[] logits = [3, 2.5f, 2, 1];
        var probabilities = new Sampler(new SamplingOptions { Temperature = 1, MinP = 0.3f }).Distribution(logits);

        double total = 1 + Math.Exp(-0.5) + Math.Exp(-1);
        Assert.Equal([1 / total, Math.Exp(-0.5) / total, Math.Exp(-1) / total, 0], probabilities, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void MinP_IsAppliedAfterTheTemperature()
    {
        // At T = 0.5 the ratios square: e^-1 = 0.37, e^-2 = 0.14; min-p 0.3 keeps tokens 0 and 1 only.
        var probabilities = new Sampler(new SamplingOptions { Temperature = 0.5f, MinP = 0.3f }).Distribution([3, 2.5f, 2, 1]);

        Assert.Equal([true, true, false, false], probabilities.Select(p => p > 0));
    }

    [Fact]
    public void Logprobs_AreTheLogSoftmaxOfTheLogits_InDouble_WithTheTopTokensMostLikelyFirst()
    {
        float[] logits = [1.5f, -2, 3, 3, 0.25f];
        var logprob = TokenLogprob.Of(logits, 4, top: 3);

        double logSum = Math.Log(logits.Sum(l => Math.Exp(l)));
        Assert.Equal(4, logprob.Id);
        Assert.Equal(0.25 - logSum, logprob.Logprob, 12);
        Assert.Equal([2, 3, 0], logprob.Top.Select(t => t.Id));
        Assert.Equal([3 - logSum, 3 - logSum, 1.5 - logSum], logprob.Top.Select(t => t.Logprob), (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Empty(TokenLogprob.Of(logits, 0, top: 0).Top);
    }

    [Fact]
    public void Logprobs_OfLogitsFarFromZero_DoNotOverflow_AndAMaskedTokenIsNegativeInfinity()
    {
        var logprobs = TokenLogprob.LogSoftmax([1000, 1000, float.NegativeInfinity, float.NaN]);

        Assert.Equal([-Math.Log(2), -Math.Log(2)], logprobs[..2], (a, b) => Math.Abs(a - b) < 1e-12);
        Assert.Equal(double.NegativeInfinity, logprobs[2]);
        Assert.Equal(double.NegativeInfinity, logprobs[3]);
    }

    [Theory]
    [InlineData(nameof(SamplingOptions.PresencePenalty), 2.5f)]
    [InlineData(nameof(SamplingOptions.FrequencyPenalty), -2.5f)]
    [InlineData(nameof(SamplingOptions.RepetitionPenalty), 0f)]
    [InlineData(nameof(SamplingOptions.MinP), 1.5f)]
    [InlineData(nameof(SamplingOptions.LogitBias), 101f)]
    [InlineData(nameof(SamplingOptions.Logprobs), 21f)]
    public void OptionsOutOfRange_AreRefusedNamingTheOption(string name, float value)
    {
        var options = name switch
        {
            nameof(SamplingOptions.PresencePenalty) => new SamplingOptions { PresencePenalty = value },
            nameof(SamplingOptions.FrequencyPenalty) => new SamplingOptions { FrequencyPenalty = value },
            nameof(SamplingOptions.RepetitionPenalty) => new SamplingOptions { RepetitionPenalty = value },
            nameof(SamplingOptions.MinP) => new SamplingOptions { MinP = value },
            nameof(SamplingOptions.LogitBias) => new SamplingOptions { LogitBias = new Dictionary<int, float> { [1] = value } },
            _ => new SamplingOptions { Logprobs = (int)value },
        };

        var error = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Equal(name, error.ParamName);
    }

    [Fact]
    public void EachChoiceOfASeededRequest_HasItsOwnReproducibleStream_ChoiceZeroBeingTheRequestItself()
    {
        var options = new SamplingOptions { Temperature = 1, Seed = 7 };
        float[] logits = [0, 0.5f, 1, 0.25f, 0.75f, 0.1f];
        int[] Draws(SamplingOptions o)
        {
            var sampler = new Sampler(o);
            return Enumerable.Range(0, 64).Select(_ => sampler.Sample(logits.ToArray())).ToArray();
        }

        Assert.Same(options, options.ForChoice(0));
        Assert.Equal(Draws(options.ForChoice(1)), Draws(options.ForChoice(1)));
        Assert.NotEqual(Draws(options), Draws(options.ForChoice(1)));
        Assert.NotEqual(Draws(options.ForChoice(1)), Draws(options.ForChoice(2)));
    }
}
