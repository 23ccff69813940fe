// Waiting on the ranks' threads with a timeout is the point: a transport that deadlocks fails the test instead of hanging it.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

/// <summary>Test ranks: a body run once per rank, each on its own thread at once (as devices would).</summary>
internal static class Ranks
{
    /// <summary>Runs body(rank) on <paramref name="size"/> threads and waits for all; fails if one throws or the wait times out.</summary>
    public static void Run(int size, Action<int> body, TimeSpan timeout)
    {
        var threads = Enumerable.Range(0, size).Select(r => Task.Factory.StartNew(() => body(r), TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(threads, timeout), "the ranks did not finish");
    }
}
