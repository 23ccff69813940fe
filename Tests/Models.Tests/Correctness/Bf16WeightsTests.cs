using Tessera.Cpu;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Correctness;

/// <summary>BF16 matrix weights (F32 accumulation) stay within 1e-2 of the references, on one device and under a plan.</summary>
public sealed class Bf16WeightsTests
{
    [Theory]
    [InlineData(Fixtures.TinyLlama)]
    [InlineData(Fixtures.TinyGpt2)]
    public void Bf16Weights_GiveTheReferenceLogits_WithinBf16Precision(string fixture)
    {
        var reference = Fixtures.Load(fixture);
        var engine = EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, new ParallelPlan { Precision = WeightPrecision.BF16 });
        float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));

        double error = Fixtures.RelativeError(logits, reference.Logits);
        Assert.True(error <= 1e-2, $"{fixture} bf16: {error:E3}");
        Assert.True(error > 1e-6, "the weights were not rounded to bf16");
        var f32 = EngineCatalog.Open(Fixtures.Directory(fixture));
        Assert.True(engine.WeightBytes < f32.WeightBytes * 3 / 4, $"{engine.WeightBytes} bytes in bf16 vs {f32.WeightBytes} in f32");
    }

    [Fact]
    public void Bf16Weights_UnderTp2Pp2_EqualBf16OnOneDevice()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var single = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic, new ParallelPlan { Precision = WeightPrecision.BF16 });
        using var plan = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama), EngineKind.Generic,
            new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2) { Precision = WeightPrecision.BF16 });
        float[] a = single.Forward(TokenBatch.ForSequence(single.CreateCache(), reference.Tokens));
        float[] b = plan.Forward(TokenBatch.ForSequence(plan.CreateCache(), reference.Tokens));
        Assert.True(Fixtures.RelativeError(b, a) <= 1e-4);
    }
}
