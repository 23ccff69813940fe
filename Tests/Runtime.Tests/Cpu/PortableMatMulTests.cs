using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>
/// The kernels for machines without AVX-512, forced on whatever machine runs the tests by passing their ISA level to
/// the internal entry points: against the plain reference loop and, where the machine has it, the AVX-512 kernels.
/// </summary>
public class PortableMatMulTests
{
    /// <summary>Sizes off every vector width and tile: 1, below 8 lanes, past 16, just under 64, two tiles and a bit.</summary>
    private static readonly int[] Sizes = [1, 3, 17, 63, 130];

    public static TheoryData<string, WeightPrecision> Cases()
    {
        var data = new TheoryData<string, WeightPrecision>();
        foreach (var isa in new[] { CpuIsa.Vector256, CpuIsa.Vector256Fma }.Where(CpuKernels.CanRun))
            foreach (var precision in new[] { WeightPrecision.F32, WeightPrecision.BF16 })
                data.Add(isa.ToString(), precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PortableMatMul_MatchesReferenceAndAvx512_OnOddShapes_OnOneThreadAndOnMany(string isaName, WeightPrecision precision)
    {
        var isa = Enum.Parse<CpuIsa>(isaName);
        foreach (int rows in Sizes)
            foreach (int k in Sizes)
                foreach (int n in Sizes)
                {
                    string what = $"{isa} {precision} T={rows} K={k} N={n}";
                    var (x, w, expected, magnitude) = Problem(rows, k, n, precision, seed: rows * 7919 + k * 31 + n);

                    var one = Run(x, rows, k, w, n, isa, threads: 1);
                    var many = Run(x, rows, k, w, n, isa, threads: 0);
                    TestData.AssertClose(expected, one, magnitude, 1e-5, what + " (1 thread)");
                    // Each output is summed by one kernel call in the same order however the work is split.
                    Assert.True(one.AsSpan().SequenceEqual(many), $"{what}: one thread and many differ.");
                    if (CpuKernels.CanRun(CpuIsa.Avx512))
                        TestData.AssertClose(Run(x, rows, k, w, n, CpuIsa.Avx512, threads: 0), many, magnitude, 2e-5, what + " vs Avx512");
                }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PortableMatMul_CallsEpilogueOncePerElement_OnFinishedValues(string isaName, WeightPrecision precision)
    {
        var isa = Enum.Parse<CpuIsa>(isaName);
        // Decode, a small batch (dot kernels), one GEMM tile, a tile ending in a 9-row slice (64 + 9: the 16-row
        // micro-kernel, not the 8-row one) and several tiles x column chunks.
        foreach (var (rows, k, n) in new[] { (1, 63, 130), (3, 17, 63), (17, 130, 17), (73, 63, 130), (130, 63, 1000) })
        {
            string what = $"{isa} {precision} T={rows} K={k} N={n}";
            var (x, w, expected, magnitude) = Problem(rows, k, n, precision, seed: rows + k + n);
            var y = new float[rows * n];
            var probe = new EpilogueProbe(expected, magnitude, n, 1e-5, (value, row, column) => value * 2 + row * 1000 + column);
            CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, y, probe.Epilogue, isa);
            probe.AssertEachElementOnceAndFinished(what);
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < n; j++)
                    Assert.Equal(expected[r * n + j] * 2 + r * 1000 + j, y[r * n + j], 1e-2f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(33)]
    [InlineData(1000)]
    public void Widen_IsExactAtEveryLevel(int count)
    {
        var bits = TestData.Random(count, count).Select(WeightMatrix.ToBf16).ToArray();
        var expected = bits.Select(WeightMatrix.FromBf16).ToArray();
        foreach (var isa in Enum.GetValues<CpuIsa>().Where(CpuKernels.CanRun))
        {
            var widened = Enumerable.Repeat(float.NaN, count + 1).ToArray();
            WeightMatrix.Widen(bits, widened, isa);
            Assert.Equal(expected, widened[..count]);
            Assert.True(float.IsNaN(widened[count]), $"{isa}: wrote past the source.");
        }
    }

    /// <summary>
    /// x, the weights in <paramref name="precision"/>, the reference product over the weights as stored (BF16: rounded)
    /// and Σ|x||w| per output, the scale any reordering error of the sums is judged against.
    /// </summary>
    private static (float[] X, WeightMatrix W, float[] Expected, float[] Magnitude) Problem(int rows, int k, int n, WeightPrecision precision, int seed)
    {
        var x = TestData.Random(rows * k, seed);
        var data = TestData.Random(n * k, seed + 1);
        var w = WeightMatrix.Create(data, n, k, precision);
        var stored = precision == WeightPrecision.F32 ? data : data.Select(v => WeightMatrix.FromBf16(WeightMatrix.ToBf16(v))).ToArray();
        var expected = new float[rows * n];
        ReferenceKernels.MatMul(x, rows, k, stored, n, expected);
        var magnitude = new float[rows * n];
        ReferenceKernels.MatMul(x.Select(Math.Abs).ToArray(), rows, k, stored.Select(Math.Abs).ToArray(), n, magnitude);
        return (x, w, expected, magnitude);
    }

    /// <summary>The product with <paramref name="threads"/> threads at most (0: every core).</summary>
    private static float[] Run(float[] x, int rows, int k, WeightMatrix w, int n, CpuIsa isa, int threads)
    {
        var y = Enumerable.Repeat(float.NaN, rows * n + 3).ToArray();
        CpuKernels.MatMul(threads == 0 ? CpuExecution.AllCores : new CpuExecution(threads), x, rows, k, w, n, y, null, isa);
        Assert.True(y[^3..].All(float.IsNaN), $"{isa} T={rows} K={k} N={n}: wrote past rows * n.");
        return y[..(rows * n)];
    }
}
