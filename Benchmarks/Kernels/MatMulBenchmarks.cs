using BenchmarkDotNet.Attributes;
using Tessera.Cpu;

namespace Tessera.Benchmarks.Kernels;

/// <summary>
/// CpuKernels.MatMul on decode (T = 1, memory bound) and prefill (T = 128, compute bound) shapes, on one thread and
/// on every core. The GFLOP/s column is 2·T·K·N / mean time.
/// </summary>
public class MatMulBenchmarks : IFlopCount
{
    private float[] _x = [], _w = [], _y = [];

    [ParamsSource(nameof(Shapes))]
    public MatMulShape Shape { get; set; } = MatMulShape.Standard[0];

    [ParamsSource(nameof(ThreadCounts))]
    public int Threads { get; set; } = 1;

    public static IEnumerable<MatMulShape> Shapes => MatMulShape.Standard;

    public static IEnumerable<int> ThreadCounts => Environment.ProcessorCount > 1 ? [1, Environment.ProcessorCount] : [1];

    public double Flops => Shape.Flops;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _x = Random(random, Shape.T * Shape.K);
        _w = Random(random, Shape.N * Shape.K);
        _y = new float[Shape.T * Shape.N];
        _cpu = new CpuExecution(Threads);
    }

    private CpuExecution _cpu = CpuExecution.AllCores;

    [Benchmark]
    public void MatMul() => CpuKernels.MatMul(_cpu, _x, Shape.T, Shape.K, _w, Shape.N, _y);

    internal static float[] Random(Random random, int count)
    {
        var a = new float[count];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(random.NextDouble() * 2 - 1);
        return a;
    }
}
