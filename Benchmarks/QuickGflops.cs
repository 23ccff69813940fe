using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using Tessera.Benchmarks.Kernels;
using Tessera.Cpu;

namespace Tessera.Benchmarks;

/// <summary>
/// `gflops` mode: stopwatch timing of MatMul (warm-up, then the best of as many calls as fit the time budget) on
/// one thread and on every core, printed as GFLOP/s and as a fraction of the machine's nominal fp32 peak.
/// Seconds, not minutes: for a quick check after a kernel change; BenchmarkDotNet gives the careful numbers. With
/// <c>portable</c>, each case also runs with BF16 weights and with the kernels of every lower level the machine runs
/// (AVX-512 without AVX512-BF16, <see cref="CpuIsa.Vector256Fma"/>), forced through the internal entry points.
/// </summary>
internal static class QuickGflops
{
    public static void Run(double secondsPerCase, bool portable = false)
    {
        int cores = Environment.ProcessorCount;
        double ghz = ClockGhz(out string clockSource);
        int lanes = Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;
        double peakPerCore = 2 * lanes * 2 * ghz; // 2 FMA units x lanes x 2 flop x GHz
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Format(inv, "Assumed peak: {0} cores x 2 FMA units x {1} lanes x 2 flop x {2:F2} GHz ({3}) = {4:F1} GFLOP/s ({5:F1} per core)",
            cores, lanes, ghz, clockSource, peakPerCore * cores, peakPerCore));
        double measuredPerCore = FmaPeak(1);
        Console.WriteLine(string.Format(inv, "Measured FMA loop: {0:F1} GFLOP/s on 1 thread, {1:F1} on {2} (turbo clocks and 512-bit FMA pipes show here, not in cpu MHz)",
            measuredPerCore, FmaPeak(cores), cores));
        Console.WriteLine();
        // portable: every level this machine runs from the best down to Vector256Fma (AVX512-BF16, AVX-512, AVX2).
        CpuIsa[] isas = portable ? [.. Enum.GetValues<CpuIsa>().Where(i => i >= CpuIsa.Vector256Fma && CpuKernels.CanRun(i)).Reverse()] : [CpuKernels.DetectedIsa];
        WeightPrecision[] precisions = portable ? [WeightPrecision.F32, WeightPrecision.BF16] : [WeightPrecision.F32];
        Console.WriteLine($"{"shape TxKxN",-16} {"weights",7} {"kernels",12} {"threads",7} {"best ms",9} {"GFLOP/s",8} {"of peak",8} {"of FMA loop",12}");
        foreach (var shape in MatMulShape.Standard)
        {
            var random = new Random(1);
            var x = MatMulBenchmarks.Random(random, shape.T * shape.K);
            var data = MatMulBenchmarks.Random(random, shape.N * shape.K);
            var y = new float[shape.T * shape.N];
            foreach (var precision in precisions)
            {
                var w = WeightMatrix.Create(data, shape.N, shape.K, precision);
                foreach (var isa in isas)
                {
                    foreach (int threads in cores > 1 ? new[] { 1, cores } : [1])
                    {
                        var cpu = new CpuExecution(threads);
                        double best = BestSeconds(() => CpuKernels.MatMul(cpu, x, shape.T, shape.K, w, shape.N, y, null, isa), secondsPerCase);
                        double gflops = shape.Flops / best / 1e9;
                        Console.WriteLine(string.Format(inv, "{0,-16} {1,7} {2,12} {3,7} {4,9:F3} {5,8:F1} {6,7:F0}% {7,11:F0}%",
                            shape, precision, isa, threads, best * 1e3, gflops, 100 * gflops / (peakPerCore * threads), 100 * gflops / (measuredPerCore * threads)));
                    }
                }
            }
        }
    }

    internal static double BestSeconds(Action action, double budget)
    {
        action();
        action();
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        for (int i = 0; i < 3 || total.Elapsed.TotalSeconds < budget; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    /// <summary>The "cpu MHz" of /proc/cpuinfo (the nominal clock under a VM), else 3 GHz.</summary>
    private static double ClockGhz(out string source)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (!line.StartsWith("cpu MHz", StringComparison.Ordinal)) continue;
                source = "/proc/cpuinfo cpu MHz";
                return double.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture) / 1000;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        source = "assumed, no /proc/cpuinfo";
        return 3.0;
    }

    /// <summary>GFLOP/s of independent Vector512 FMA chains on <paramref name="threads"/> threads: what the core really issues.</summary>
    private static double FmaPeak(int threads)
    {
        const long iterations = 20_000_000;
        double best = double.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            long start = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => FmaChains(iterations));
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return threads * iterations * 12.0 * 16 * 2 / best / 1e9;
    }

    private static float FmaChains(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c);
            a2 = Vector512.FusedMultiplyAdd(a2, m, c); a3 = Vector512.FusedMultiplyAdd(a3, m, c);
            a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c);
            a8 = Vector512.FusedMultiplyAdd(a8, m, c); a9 = Vector512.FusedMultiplyAdd(a9, m, c);
            a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
