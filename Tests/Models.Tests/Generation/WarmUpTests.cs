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
    public async Task TheWarmUpsCache_ComesBackEmpty_WithRoomForThePositionsAskedFor_AndServesTheFirstRequest()
    {
        var reference = Fixtures.Load(Fixtures.TinyLlama);
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        int positions = reference.Tokens.Length + reference.Greedy.Length;

        var cache = EngineCatalog.WarmUp(engine, positions, promptRows: 8);

        Assert.Equal(0, cache.Length);
        Assert.True(cache.Keys(0).Length >= positions * cache.KvWidth, "storage for the positions asked for is there before the request");
        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length, cache: cache).Tokens);
        // Reused again (reset by the decoder), as a server reuses its caches.
        Assert.Equal(reference.Greedy, GreedyDecoder.Generate(engine, reference.Tokens, reference.Greedy.Length, cache: cache).Tokens);

        await using var batcher = new Tessera.Generation.ContinuousBatcher(engine, maxInFlight: 1);
        batcher.AddCache(EngineCatalog.WarmUp(engine, positions));
        var output = await batcher.Submit(reference.Tokens, new Tessera.Generation.SamplingOptions { MaxTokens = reference.Greedy.Length, StopTokens = [] })
            .Completion.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(reference.Greedy, output.Tokens);
    }

    [Fact]
    public async Task TheKernelWarmUp_Runs_OnOneThreadAndOnSeveral()
    {
        Assert.True(KernelWarmUp.Run(CpuExecution.SingleThread) > TimeSpan.Zero);
        Assert.True(KernelWarmUp.Run(new CpuExecution(2)) > TimeSpan.Zero);
        await KernelWarmUp.Start().WaitAsync(TimeSpan.FromSeconds(60));
    }
}
