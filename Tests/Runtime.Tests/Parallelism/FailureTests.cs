using Tessera.Parallelism;

// These tests block on purpose (with timeouts): what they test is blocking transports and worker threads.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class FailureTests(ToyCheckpointFixture fixture) : IClassFixture<ToyCheckpointFixture>
{
    // The forward runs on a thread of its own and its end is awaited on the task's wait handle: neither needs a
    // thread-pool thread, so tests blocking pool threads elsewhere in the run cannot pass for a hang (a pool-scheduled
    // forward and a ContinueWith did, once, in CI).
    private static Task<T> OnItsOwnThread<T>(Func<T> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static bool Ended(Task task, TimeSpan within) => ((IAsyncResult)task).AsyncWaitHandle.WaitOne(within);

    [Theory]
    [InlineData(0)] // the first stage: the second waits on its link and the clock
    [InlineData(3)] // stage 1, tensor rank 1: its tensor peer waits in a collective
    [InlineData(1)] // stage 0, tensor rank 1
    public void AWorkerException_SurfacesFromForward_WithoutHanging_AndTheEngineRecovers(int failingRank)
    {
        bool failing = true;
        using var engine = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Pipeline: 2, Tensor: 2, MicroBatches: 2),
            (rank, call) => failing && rank.Rank == failingRank && call == 0);
        var caches = Enumerable.Range(0, ToyScenario.Prompts.Length).Select(_ => engine.CreateCache()).ToList();

        var forward = OnItsOwnThread(() => engine.Forward(TokenBatch.ForSequences(caches, ToyScenario.Prompts)));
        Assert.True(Ended(forward, TimeSpan.FromSeconds(10)), "Forward hung after a worker failed");
        var e = Assert.IsType<RankFailedException>(forward.Exception!.InnerException);
        Assert.Equal($"cpu:{failingRank}", e.Device);
        Assert.Contains($"boom on rank {failingRank}", e.Message);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Equal(0, e.MicroBatch);
        Assert.All(caches, c => Assert.Equal(0, c.Length)); // nothing committed

        // The transports were reopened: the same forward now runs and gives the single rank's logits.
        failing = false;
        var logits = engine.Forward(TokenBatch.ForSequences(caches, ToyScenario.Prompts));
        Assert.Equal(fixture.Reference[0], logits);
    }

    [Fact]
    public void AFailureInOneReplica_StopsTheOthers()
    {
        using var engine = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Data: 2, Pipeline: 2, MicroBatches: 2),
            (rank, _) => rank.DataRank == 1 && rank.Stage == 1);
        var caches = Enumerable.Range(0, 4).Select(_ => engine.CreateCache()).ToList();
        var forward = OnItsOwnThread(() => engine.Forward(TokenBatch.ForSequences(caches, [[1], [2], [3], [4]])));
        Assert.True(Ended(forward, TimeSpan.FromSeconds(10)));
        var e = Assert.IsType<RankFailedException>(forward.Exception!.InnerException);
        Assert.Equal((1, 1), (e.DataRank, e.Stage));
        Assert.NotNull(engine.LastTrace);
    }
}
