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
