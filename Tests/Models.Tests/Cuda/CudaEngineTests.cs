using Tessera.Parallelism;
using Tessera.Runtime.Tests.Cuda;

namespace Tessera.Models.Tests.Cuda;

/// <summary>
/// The CUDA back end against the references: both fixtures in fp32 within 1e-4 of llama2.c / llm.c, and every plan on
/// CUDA devices (virtual devices sharing the GPU) equal to one device. The GPU facts need a GPU and NVRTC and skip
/// elsewhere; the emulator facts run the same generated rank programs and kernels on the CPU emulator.
/// </summary>
public sealed class CudaEngineTests
{
    [GpuFact(needsNvrtc: true)]
    public void OnOneGpu_BothFixtures_MatchTheReferenceLogits_AndGreedyContinuations() => BothFixturesMatchTheReference(DeviceKind.Cuda);

    [GpuFact(needsNvrtc: true)]
    public void EveryPlan_OnCudaDevices_EqualsOneDevice() => EveryPlanEqualsOneDevice(DeviceKind.Cuda);

    [EmulatorFact]
    public void OnTheEmulator_BothFixtures_MatchTheReferenceLogits_AndGreedyContinuations() => BothFixturesMatchTheReference(DeviceKind.CudaEmulator);

    [EmulatorFact]
    public void EveryPlan_OnEmulatedCudaDevices_EqualsOneDevice() => EveryPlanEqualsOneDevice(DeviceKind.CudaEmulator);

    [GpuFact(needsNvrtc: true)]
    public void OnOneGpu_Bf16Weights_StayWithinBf16Precision_InPrefillAndDecode() => Bf16WeightsStayWithinBf16Precision(DeviceKind.Cuda);

    [EmulatorFact]
    public void OnTheEmulator_Bf16Weights_StayWithinBf16Precision_InPrefillAndDecode() => Bf16WeightsStayWithinBf16Precision(DeviceKind.CudaEmulator);

    /// <summary>
    /// BF16 weights on the device: the prefill of the reference prompt (more rows than the GEMV takes: widened weights,
    /// TF32 products) and token-by-token decode (the bf16 GEMV kernel) both within 1e-2 of the reference, and under
    /// tp2 x pp2 equal to one device within TF32's rounding.
    /// </summary>
    private static void Bf16WeightsStayWithinBf16Precision(DeviceKind device)
    {
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2 })
        {
            var reference = Fixtures.Load(fixture);
            var bf16 = new ParallelPlan { Precision = Tessera.Cpu.WeightPrecision.BF16 };
            using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, bf16, device);
            Assert.True(reference.Tokens.Length > Tessera.Cuda.CudaStage.GemvMaxRows, "the prefill must take the TF32 path");
            float[] prefill = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));
            double error = Fixtures.RelativeError(prefill, reference.Logits);
            Assert.True(error <= 1e-2 && error > 1e-6, $"{fixture} bf16 prefill on {device}: {error:E3}");

            var cache = engine.CreateCache();
            int vocab = engine.Shape.VocabSize;
            var stepped = new float[reference.Logits.Length];
            for (int t = 0; t < reference.Tokens.Length; t++)
                engine.Forward(TokenBatch.ForSequence(cache, [reference.Tokens[t]])).CopyTo(stepped, (long)t * vocab);
            error = Fixtures.RelativeError(stepped, reference.Logits);
            Assert.True(error <= 1e-2 && error > 1e-6, $"{fixture} bf16 decode on {device}: {error:E3}");

            using var plan = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic,
                new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2) { Precision = Tessera.Cpu.WeightPrecision.BF16 }, device);
            float[] planned = plan.Forward(TokenBatch.ForSequence(plan.CreateCache(), reference.Tokens));
            // TF32 rounds the activations to 10 mantissa bits: a split-k partial that differs in the last fp32 bit can
            // round the other way (2^-11 relative), so plans agree to ~1e-3 here, not the 1e-4 of fp32 products.
            double planError = Fixtures.RelativeError(planned, prefill);
            Assert.True(planError <= 1e-3, $"{fixture} bf16 tp2 x pp2 on {device}: {planError:E3}");
        }
    }

    private static void BothFixturesMatchTheReference(DeviceKind device)
    {
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2 })
        {
            var reference = Fixtures.Load(fixture);
            using var engine = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, null, device);
            float[] logits = engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), reference.Tokens));
            double error = Fixtures.RelativeError(logits, reference.Logits);
            Assert.True(error <= 1e-4, $"{fixture} on {device}: max|a-b|/max|ref| = {error:E3}");
            Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
        }
    }

    private static void EveryPlanEqualsOneDevice(DeviceKind device)
    {
        foreach (var fixture in new[] { Fixtures.TinyLlama, Fixtures.TinyGpt2 })
        {
            var reference = Fixtures.Load(fixture);
            int[][] prompts = [reference.Tokens[..9], reference.Tokens[2..21], reference.Tokens];
            foreach (var name in new[] { "dp2", "mp2", "pp2-m4", "pp3-uneven", "tp2", "tp4", "tp2-pp2", "dp2-tp2-pp2" })
            {
                using var single = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, null, device);
                using var parallel = (ParallelEngine)EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic,
                    Parallel.PlanEquivalenceTests.PlanNamed(name, fixture), device);
                float[] a = single.Forward(TokenBatch.ForSequences(prompts.Select(_ => single.CreateCache()).ToArray(), prompts));
                float[] b = parallel.Forward(TokenBatch.ForSequences(prompts.Select(_ => parallel.CreateCache()).ToArray(), prompts));
                double error = Fixtures.RelativeError(b, a);
                Assert.True(error <= 1e-4, $"{fixture} {name} on {device}: {error:E3}");
            }
        }
    }
}
