using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Tessera.Cpu;

/// <summary>
/// Worker threads that run the parts of one parallel kernel call beside the calling thread, which runs part 0.
/// </summary>
/// <remarks>
/// A decode step is about a hundred kernel calls a few microseconds to a millisecond apart. Handing each to the .NET
/// thread pool (Parallel.For) costs a wake-up of a sleeping pool thread per call, 5-20 µs, which is a tenth of a small
/// model's step. A team's workers instead spin for a while after their part (as ggml's thread pool does), see the next
/// call's generation change within a fraction of a microsecond, and only then sleep, so an idle process burns
/// no CPU. Teams are rented per call from a pool by size: devices running kernels at once each get their own team, and a
/// team is only ever driven by one caller at a time.
/// </remarks>
internal sealed class CpuTeam
{
    /// <summary>How long a worker spins for the next call before it sleeps (a decode step's gaps are far shorter).</summary>
    private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 2000; // 0.5 ms

    private static readonly ConcurrentDictionary<int, ConcurrentBag<CpuTeam>> Idle = new();

    private readonly Worker[] _workers;
    private Action<int>? _part;
    private long _generation;
    private int _pending;
    private ExceptionDispatchInfo? _failure;
    private readonly SemaphoreSlim _finished = new(0);
    // The generation whose caller sleeps on _finished, or 0. Tagged with the generation so that a worker that is late
    // with the previous call's bookkeeping (descheduled between its countdown and this flag, while the caller has
    // already seen the count reach zero and started the next call) cannot wake the next call's caller early.
    private long _callerWaits;

    private CpuTeam(int size)
    {
        _workers = new Worker[size];
        for (int i = 0; i < size; i++) _workers[i] = new Worker(this, i + 1);
    }

    /// <summary>
    /// Runs <paramref name="part"/>(0) .. <paramref name="part"/>(<paramref name="parts"/> - 1), part 0 on the calling thread,
    /// the others on a team's workers; returns when all have; rethrows the first failure.
    /// </summary>
    public static void Run(int parts, Action<int> part)
    {
        if (parts <= 1)
        {
            if (parts == 1) part(0);
            return;
        }
        var idle = Idle.GetOrAdd(parts - 1, _ => new ConcurrentBag<CpuTeam>());
        var team = idle.TryTake(out var rented) ? rented : new CpuTeam(parts - 1);
        try
        {
            team.RunParts(part);
        }
        finally
        {
            idle.Add(team);
        }
    }

    private void RunParts(Action<int> part)
    {
        _part = part;
        _failure = null;
        Volatile.Write(ref _pending, _workers.Length);
        long generation = Interlocked.Increment(ref _generation);
        foreach (var worker in _workers) worker.WakeIfAsleep();

        RunPart(0);

        // The workers' parts are about as long as ours: spin (a sleeping caller takes tens of microseconds to wake),
        // and sleep only when one is very late, descheduled by a busy machine.
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
        for (int spins = 1; Volatile.Read(ref _pending) != 0 && System.Diagnostics.Stopwatch.GetTimestamp() < deadline; spins++) Pause(spins);
        if (Volatile.Read(ref _pending) != 0)
        {
            // Same handshake as a worker's sleep: whoever clears the flag owns the one release of _finished.
            Interlocked.Exchange(ref _callerWaits, generation);
            if (Volatile.Read(ref _pending) != 0 || Interlocked.CompareExchange(ref _callerWaits, 0, generation) != generation) _finished.Wait();
        }
        _part = null;
        _failure?.Throw();
    }

    /// <summary>
    /// One step of a spin: a pause loop, and every 64th step a yield of the core, so that a thread that needs it (the
    /// GC's, another device's) gets it instead of waiting for the end of a time slice. Yielding at every step would be a
    /// system call per microsecond: measured as a fifth of a prefill's time in the kernel.
    /// </summary>
    private static void Pause(int spins)
    {
        if (spins % 64 == 0) Thread.Yield();
        else Thread.SpinWait(30);
    }

    private void RunPart(int index)
    {
        try
        {
            _part!(index);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
        }
    }

    private void PartDone(long generation)
    {
        if (Interlocked.Decrement(ref _pending) != 0) return;
        AfterLastCountdown?.Invoke();
        if (Interlocked.CompareExchange(ref _callerWaits, 0, generation) == generation) _finished.Release();
    }

    /// <summary>
    /// Tests only: runs on the worker that finished a call's last part, between its countdown and its wake-up of the
    /// caller: the moment a preempted worker can be late into the next call.
    /// </summary>
    internal static Action? AfterLastCountdown;

    /// <summary>One background thread of a team: waits for a new generation, runs its part, reports it done.</summary>
    private sealed class Worker
    {
        private readonly CpuTeam _team;
        private readonly int _index;
        private readonly SemaphoreSlim _wake = new(0);
        private int _asleep;

        public Worker(CpuTeam team, int index)
        {
            _team = team;
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"tessera-cpu-{index}" }.Start();
        }

        /// <summary>Called by the driver after it published a new generation.</summary>
        public void WakeIfAsleep()
        {
            if (Interlocked.Exchange(ref _asleep, 0) == 1) _wake.Release();
        }

        private void Loop()
        {
            long seen = 0;
            while (true)
            {
                seen = WaitForGeneration(seen);
                _team.RunPart(_index);
                _team.PartDone(seen);
            }
        }

        private long WaitForGeneration(long seen)
        {
            long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
            int spins = 0;
            while (true)
            {
                long generation = Volatile.Read(ref _team._generation);
                if (generation != seen) return generation;
                if (System.Diagnostics.Stopwatch.GetTimestamp() < deadline)
                {
                    Pause(++spins);
                    continue;
                }
                Interlocked.Exchange(ref _asleep, 1);
                // A generation published after the flag was set will wake us; one published before it is seen here.
                generation = Volatile.Read(ref _team._generation);
                if (generation != seen)
                {
                    // If the driver already claimed the flag it has released the semaphore once: take that release.
                    if (Interlocked.Exchange(ref _asleep, 0) == 0) _wake.Wait();
                    return generation;
                }
                _wake.Wait();
                deadline = System.Diagnostics.Stopwatch.GetTimestamp() + SpinTicks;
                spins = 0;
            }
        }
    }
}
