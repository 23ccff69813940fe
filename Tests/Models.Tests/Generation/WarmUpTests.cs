using Tessera.Cpu;
using Tessera.Parallelism;

namespace Tessera.Models.Tests.Generation;

/// <summary>
/// The warm-up that generate and serve run at load leaves nothing behind: the reference continuation comes out of a
/// warmed engine on every bundled model, on one device and over a plan. The kernel warm-up runs every kernel it names.
/// </summary>
public sealed class WarmUpTests
{
    [Theory]
    [InlineData(Fixtures.TinyLlama, false)]
    [InlineData(Fixtures.TinyGpt2, false)]
    [InlineData(Fixtures.TinyMixtral, false)]
    [InlineData(Fixtures.TinyLlama, true)]
    public void AWarmedEngine_GivesTheReferenceGreedyContinuation(string fixture, bool parallel)
    {
        var reference = Fixtures.Load(fixture);
        var engine = EngineCatalog.Open(Fixtures.Directory(fixture), EngineKind.Generic, parallel ? new ParallelPlan(Tensor: 2, Pipeline: 2) : null);
        try
        {
            EngineCatalog.WarmUp(engine);
            Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length).Tokens);
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void TheKernelWarmUp_Runs_OnOneThreadAndOnSeveral()
    {
        Assert.True(KernelWarmUp.Run(CpuExecution.SingleThread) > TimeSpan.Zero);
        Assert.True(KernelWarmUp.Run(new CpuExecution(2)) > TimeSpan.Zero);
        Assert.True(KernelWarmUp.Start().Wait(TimeSpan.FromSeconds(60)));
    }
}
