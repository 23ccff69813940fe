using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>
/// The worker team that runs a kernel call's parts: every part runs exactly once and the call returns only after all
/// have, whether the workers were spinning or asleep; a part's failure reaches the caller; callers at once (devices of
/// one process) each get a team of their own.
/// </summary>
public sealed class CpuTeamTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void EveryPart_RunsOnce_BeforeTheCallReturns(int parts)
    {
        for (int call = 0; call < 2000; call++)
        {
            var runs = new int[parts];
            CpuTeam.Run(parts, p => Interlocked.Increment(ref runs[p]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void PartZero_RunsOnTheCallingThread()
    {
        int caller = Environment.CurrentManagedThreadId, ranOn = -1;
        CpuTeam.Run(2, p => { if (p == 0) ranOn = Environment.CurrentManagedThreadId; });
        Assert.Equal(caller, ranOn);
    }

    [Fact]
    public void WorkersThatFellAsleep_WakeForTheNextCall()
    {
        for (int call = 0; call < 5; call++)
        {
            Thread.Sleep(5); // longer than a worker spins
            var runs = new int[2];
            CpuTeam.Run(2, p => { Thread.SpinWait(1000); Interlocked.Increment(ref runs[p]); });
            Assert.Equal([1, 1], runs);
        }
    }

    [Fact]
    public void APartThatLagsBehindTheCaller_IsWaitedFor()
    {
        int finished = 0;
        CpuTeam.Run(2, p =>
        {
            if (p == 1) Thread.Sleep(20); // past the caller's spin: it must sleep and be woken
            Interlocked.Increment(ref finished);
        });
        Assert.Equal(2, finished);
    }

    [Fact]
    public void AFailingPart_FailsTheCall_WithItsOwnException_AndTheTeamStillWorks()
    {
        var error = Assert.Throws<InvalidOperationException>(() => CpuTeam.Run(3, p =>
        {
            if (p == 2) throw new InvalidOperationException("part 2 failed");
        }));
        Assert.Equal("part 2 failed", error.Message);

        var runs = new int[3];
        CpuTeam.Run(3, p => Interlocked.Increment(ref runs[p]));
        Assert.Equal([1, 1, 1], runs);
    }

    [Fact]
    public async Task CallersAtOnce_EachRunAllTheirParts()
    {
        const int callers = 4, calls = 500;
        var totals = new long[callers];
        await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Factory.StartNew(() =>
        {
            for (int call = 0; call < calls; call++)
            {
                long sum = 0;
                CpuTeam.Run(2, p => Interlocked.Add(ref sum, p + 1));
                totals[c] += sum;
            }
        }, TaskCreationOptions.LongRunning))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.All(totals, t => Assert.Equal(3L * calls, t));
    }

    /// <summary>
    /// A worker late with the previous call's bookkeeping (stopped between its countdown and its wake-up of the caller,
    /// as preemption or a garbage collection can do) while the caller, having seen the count reach zero, already runs
    /// the next call and sleeps waiting for it: the late worker must not wake that caller. It once did, and the next
    /// call returned with its part still running (and a later one waited forever).
    /// </summary>
    [Fact]
    public void AWorkerLateWithThePreviousCall_DoesNotEndTheNextCallEarly()
    {
        lock (LateWorkerGate)
        {
            int late = 0;
            CpuTeam.AfterLastCountdown = () =>
            {
                if (Interlocked.Exchange(ref late, 0) == 1) Thread.Sleep(50);
            };
            try
            {
                for (int call = 0; call < 20; call++)
                {
                    Volatile.Write(ref late, 1);
                    CpuTeam.Run(2, _ => { });
                    // The next call's worker part outlasts the caller's spin, so the caller sleeps while the late worker wakes.
                    int done = 0;
                    CpuTeam.Run(2, p =>
                    {
                        if (p == 1) Thread.Sleep(20);
                        Interlocked.Increment(ref done);
                    });
                    Assert.Equal(2, Volatile.Read(ref done));
                }
            }
            finally
            {
                CpuTeam.AfterLastCountdown = null;
            }
        }
    }

    private static readonly object LateWorkerGate = new();

    [Fact]
    public void ForEach_HandsOutEveryItemOnce()
    {
        var seen = new int[1000];
        CpuParallel.ForEach(seen.Length, 2, i => Interlocked.Increment(ref seen[i]));
        Assert.All(seen, s => Assert.Equal(1, s));
    }
}
