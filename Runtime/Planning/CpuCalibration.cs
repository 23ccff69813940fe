using System.Diagnostics;
using Tessera.Cpu;
using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>
/// This machine as the advisor's device, measured rather than assumed: matrix-product FLOP/s with every core, the
/// bandwidth a decode step's weight streaming reaches, and the latency and bandwidth of the in-process collectives
/// that join CPU virtual devices. <see cref="AsDevice"/> splits it among N virtual devices as the parallel engine does.
/// </summary>
/// <param name="Flops">sustained FLOP/s of a large F32 matrix product on all cores</param>
/// <param name="BandwidthBytesPerSecond">bytes/s a single-row product streams its weights at</param>
/// <param name="LinkLatencySeconds">one small all-reduce between two in-process ranks</param>
/// <param name="LinkBandwidthBytesPerSecond">bytes/s of a large all-reduce between two in-process ranks</param>
/// <param name="MemoryBytes">memory the process may use</param>
public sealed record CpuCalibration(double Flops, double BandwidthBytesPerSecond, double LinkLatencySeconds, double LinkBandwidthBytesPerSecond, long MemoryBytes)
{
    /// <summary>Measures this machine (about a second).</summary>
    public static CpuCalibration Measure()
    {
        // A prefill-sized product: FLOP/s.
        const int rows = 256, k = 1024, n = 1024;
        var x = Filled(rows * k);
        var w = WeightMatrix.Create(Filled(n * k), n, k, WeightPrecision.F32);
        var y = new float[rows * n];
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, y);
        double flops = Rate(() => CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, y), 2.0 * rows * k * n);

        // A decode-sized product over a matrix far larger than the caches: the bandwidth weights stream at.
        const int bigN = 8192, bigK = 8192;
        var big = WeightMatrix.Create(Filled(bigN * bigK), bigN, bigK, WeightPrecision.F32);
        var row = Filled(bigK);
        var output = new float[bigN];
        CpuKernels.MatMul(CpuExecution.AllCores, row, 1, bigK, big, bigN, output);
        double bandwidth = Rate(() => CpuKernels.MatMul(CpuExecution.AllCores, row, 1, bigK, big, bigN, output), 4.0 * bigN * bigK);

        // Two ranks of an in-process group: a 4 KiB all-reduce's latency, a 16 MiB one's bandwidth.
        double latency = AllReduceSeconds(1024) ;
        double linkBandwidth = 4.0 * (4 << 20) / AllReduceSeconds(4 << 20);
        return new CpuCalibration(flops, bandwidth, latency, linkBandwidth, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes);
    }

    /// <summary>
    /// One of <paramref name="devices"/> CPU virtual devices: an equal share of the cores' FLOP/s, of the memory
    /// bandwidth and of the memory; in-process collectives between them.
    /// </summary>
    public DeviceSpec AsDevice(int devices)
    {
        devices = Math.Max(1, devices);
        var link = new LinkSpec("in-process", LinkBandwidthBytesPerSecond, LinkLatencySeconds);
        return new DeviceSpec($"cpu ({Environment.ProcessorCount} cores, 1/{devices})", MemoryBytes / devices, BandwidthBytesPerSecond / devices,
            Flops / devices, Flops / devices, link, link, "measured by CpuCalibration on this machine", OverlapsComputeAndMemory: false);
    }

    private static float[] Filled(int n)
    {
        var random = new Random(1);
        var values = new float[n];
        for (int i = 0; i < n; i++) values[i] = (float)(random.NextDouble() - 0.5);
        return values;
    }

    /// <summary>Units of <paramref name="work"/> per second of <paramref name="action"/>, run for about 0.2 s.</summary>
    private static double Rate(Action action, double work)
    {
        var clock = Stopwatch.StartNew();
        int runs = 0;
        do
        {
            action();
            runs++;
        }
        while (clock.Elapsed.TotalSeconds < 0.2);
        return runs * work / clock.Elapsed.TotalSeconds;
    }

    private static double AllReduceSeconds(int count)
    {
        using var group = new InProcessGroup(2);
        const int rounds = 20;
        var clock = new Stopwatch();
        var ranks = Enumerable.Range(0, 2).Select(r => Task.Factory.StartNew(() =>
        {
            var data = new float[count];
            group[r].AllReduceSum(data, count); // warm-up
            if (r == 0) clock.Start();
            for (int i = 0; i < rounds; i++) group[r].AllReduceSum(data, count);
        }, TaskCreationOptions.LongRunning)).ToArray();
        Task.WaitAll(ranks);
        return clock.Elapsed.TotalSeconds / rounds;
    }
}
