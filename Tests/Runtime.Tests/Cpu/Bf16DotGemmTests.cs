using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>
/// The prefill product with BF16 weights on AVX512-BF16 (vdpbf16ps, assembled at start-up): the product of the F32
/// activations with the rounded weights, as the widening kernels compute it, on every awkward shape.
/// </summary>
public sealed class Bf16DotGemmTests
{
    [Fact]
    public void SplitBf16_KeepsSixteenSignificantBits_AndSpecialValues()
    {
        var random = new Random(3);
        for (int i = 0; i < 100_000; i++)
        {
            float v = (float)((random.NextDouble() * 2 - 1) * Math.Pow(2, random.Next(-100, 100)));
            var (hi, lo) = CpuKernels.SplitBf16(v);
            double sum = (double)WeightMatrix.FromBf16(hi) + WeightMatrix.FromBf16(lo);
            Assert.True(Math.Abs(sum - v) <= Math.Pow(2, -16) * Math.Abs(v), $"{v:R} split as {WeightMatrix.FromBf16(hi):R} + {WeightMatrix.FromBf16(lo):R}");
        }
        Assert.True(float.IsNaN(WeightMatrix.FromBf16(CpuKernels.SplitBf16(float.NaN).Hi)));
        Assert.Equal((WeightMatrix.ToBf16(float.PositiveInfinity), (ushort)0), CpuKernels.SplitBf16(float.PositiveInfinity));
        Assert.Equal((WeightMatrix.ToBf16(float.NegativeInfinity), (ushort)0), CpuKernels.SplitBf16(float.NegativeInfinity));
        Assert.Equal(((ushort)0, (ushort)0), CpuKernels.SplitBf16(0f));
    }

    [Avx512Bf16Fact]
    public void Bf16Gemm_MatchesTheProductWithRoundedWeights_OnAwkwardShapes_OnOneThreadAndOnMany()
    {
        // Rows: one tile's first vector, a tile and a row, two tiles and a bit. K: one pair, odd (a column without a
        // pair), pairs not a multiple of 8 (the packing's vector step), two passes of 1024 and an odd tail. N: one
        // column, under one micro-tile, several chunks with a tail.
        foreach (int rows in new[] { 16, 17, 65, 130 })
            foreach (int k in new[] { 2, 3, 17, 40, 2049 })
                foreach (int n in new[] { 1, 5, 13, 1000 })
                {
                    if ((long)rows * k * n > 40_000_000) continue;
                    string what = $"T={rows} K={k} N={n}";
                    var (x, w, expected, magnitude) = Problem(rows, k, n, seed: rows * 7919 + k * 31 + n);
                    var one = Run(x, rows, k, w, n, new CpuExecution(1));
                    var many = Run(x, rows, k, w, n, CpuExecution.AllCores);
                    TestData.AssertClose(expected, one, magnitude, 2e-5, what);
                    Assert.True(one.AsSpan().SequenceEqual(many), $"{what}: one thread and many differ.");
                    TestData.AssertClose(Run(x, rows, k, w, n, CpuExecution.AllCores, CpuIsa.Avx512), many, magnitude, 2e-5, what + " vs the widening kernel");
                }
    }

    [Avx512Bf16Fact]
    public void Bf16Gemm_KeepsInfinityAndNaN_FromTheActivations()
    {
        var (x, w, _, _) = Problem(20, 8, 3, seed: 1);
        x[0] = float.PositiveInfinity; // row 0: ±inf or NaN (inf · w over columns of mixed sign)
        x[5 * 8 + 3] = float.NaN;      // row 5: NaN everywhere
        var y = Run(x, 20, 8, w, 3, CpuExecution.AllCores);
        for (int j = 0; j < 3; j++)
        {
            Assert.True(float.IsInfinity(y[j]) || float.IsNaN(y[j]), $"y[0, {j}] = {y[j]}");
            Assert.True(float.IsNaN(y[5 * 3 + j]), $"y[5, {j}] = {y[5 * 3 + j]}");
            Assert.True(float.IsFinite(y[6 * 3 + j]), $"y[6, {j}] = {y[6 * 3 + j]}");
        }
    }

    [Avx512Bf16Fact]
    public void Bf16Gemm_CallsTheEpilogueOncePerElement_OnFinishedValues()
    {
        const int rows = 130, k = 2049, n = 300;
        var (x, w, expected, magnitude) = Problem(rows, k, n, seed: 9);
        var probe = new EpilogueProbe(expected, magnitude, n, 2e-5);
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, new float[rows * n], probe.Epilogue, CpuIsa.Avx512Bf16);
        probe.AssertEachElementOnceAndFinished($"T={rows} K={k} N={n}");
    }

    /// <summary>x, BF16 weights, the product over the rounded weights in double, and Σ|x||w| per output.</summary>
    private static (float[] X, WeightMatrix W, float[] Expected, float[] Magnitude) Problem(int rows, int k, int n, int seed)
    {
        var x = TestData.Random(rows * k, seed);
        var w = WeightMatrix.Create(TestData.Random(n * k, seed + 1), n, k, WeightPrecision.BF16);
        var stored = w.BF16!.Select(WeightMatrix.FromBf16).ToArray();
        var expected = new float[rows * n];
        var magnitude = new float[rows * n];
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, size = 0;
                for (int i = 0; i < k; i++)
                {
                    sum += (double)x[t * k + i] * stored[j * k + i];
                    size += Math.Abs((double)x[t * k + i] * stored[j * k + i]);
                }
                expected[t * n + j] = (float)sum;
                magnitude[t * n + j] = (float)size;
            }
        return (x, w, expected, magnitude);
    }

    private static float[] Run(float[] x, int rows, int k, WeightMatrix w, int n, CpuExecution cpu, CpuIsa isa = CpuIsa.Avx512Bf16)
    {
        var y = Enumerable.Repeat(float.NaN, rows * n + 3).ToArray();
        CpuKernels.MatMul(cpu, x, rows, k, w, n, y, null, isa);
        Assert.True(y[^3..].All(float.IsNaN), $"T={rows} K={k} N={n}: wrote past rows * n.");
        return y[..(rows * n)];
    }
}
