using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Tessera.Cpu;

namespace Tessera.Benchmarks.Kernels;

/// <summary>
/// `bandwidth` mode: what decode is bound by. The memory bandwidth a plain summing read of a DRAM-sized array reaches
/// on 1 and on every core, against the bandwidth the decode product (one row of x times weights far larger than the
/// caches) reaches with F32 and BF16 weights, for the widths of the benchmark models.
/// </summary>
internal static class DecodeBandwidth
{
    public static void Run()
    {
        var inv = CultureInfo.InvariantCulture;
        int cores = Environment.ProcessorCount;
        // Written, not just allocated: untouched pages all map the kernel's one zero page, which stays in cache.
        var data = new float[64 << 20]; // 256 MiB
        Array.Fill(data, 1f);
        foreach (int threads in new[] { 1, cores })
        {
            double seconds = QuickGflops.BestSeconds(() =>
            {
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    int start = (int)((long)data.Length * t / threads), end = (int)((long)data.Length * (t + 1) / threads);
                    TensorPrimitives.Sum(data.AsSpan(start, end - start));
                });
            }, budget: 1);
            Console.WriteLine(string.Format(inv, "read (sum) of 256 MiB, {0} threads: {1:F1} GB/s", threads, data.Length * 4.0 / seconds / 1e9));
        }

        foreach (var (k, n) in new[] { (288, 32000), (768, 32000), (768, 2048), (2048, 768) })
        {
            // Enough copies of the matrix that together they exceed the caches: each call reads one from DRAM.
            int copies = Math.Max(2, (int)(512L * 1024 * 1024 / (4L * k * n)));
            var x = new float[k];
            var y = new float[n];
            for (int i = 0; i < k; i++) x[i] = 0.01f * (i % 7);
            foreach (var precision in new[] { WeightPrecision.F32, WeightPrecision.BF16 })
            {
                var random = new Random(1);
                var weights = Enumerable.Range(0, copies).Select(c => WeightMatrix.Create(MatMulBenchmarks.Random(random, k * n), n, k, precision)).ToArray();
                long bytes = weights[0].Bytes;
                foreach (int threads in new[] { 1, cores })
                {
                    var cpu = new CpuExecution(threads);
                    int next = 0;
                    double seconds = QuickGflops.BestSeconds(() => CpuKernels.MatMul(cpu, x, 1, k, weights[next++ % copies], n, y), budget: 1);
                    Console.WriteLine(string.Format(inv, "decode product 1x{0}x{1} {2}, {3} threads: {4:F1} GB/s", k, n, precision, threads, bytes / seconds / 1e9));
                }
            }
        }
    }
}
