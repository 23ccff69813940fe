namespace Tessera.Cpu;

/// <summary>
/// How many threads a CPU kernel call may use: its device's share of the cores. A rank program holds the execution of
/// the device it runs on and passes it to every kernel it calls, so a call's parallelism is visible where it is made
/// and nothing global decides it (tests and devices cannot leak settings into each other).
/// </summary>
public sealed record CpuExecution
{
    public CpuExecution(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "A kernel needs at least one thread.");
        Threads = threads;
    }

    /// <summary>The most threads one kernel call uses; small work runs inline on the caller whatever this is.</summary>
    public int Threads { get; }

    /// <summary>Every core of the machine: one device alone in the process.</summary>
    public static CpuExecution AllCores { get; } = new(Environment.ProcessorCount);

    /// <summary>The caller's thread only: for work already split one item per core.</summary>
    public static CpuExecution SingleThread { get; } = new(1);

    /// <summary>
    /// The share of <paramref name="devices"/> devices running kernels at once, so that together they do not
    /// oversubscribe the machine: cores / devices, at least one.
    /// </summary>
    public static CpuExecution ShareOf(int devices) => new(Math.Max(1, Environment.ProcessorCount / Math.Max(1, devices)));
}
