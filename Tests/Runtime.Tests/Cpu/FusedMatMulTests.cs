using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

/// <summary>
/// Products of one input in one call (CpuKernels.MatMul over several targets, what generated code runs for Q/K/V and
/// gate/up): each target gets exactly what its own MatMul gives, at every level the machine runs.
/// </summary>
public sealed class FusedMatMulTests
{
    public static TheoryData<string, WeightPrecision> Cases()
    {
        var data = new TheoryData<string, WeightPrecision>();
        foreach (var isa in Enum.GetValues<CpuIsa>().Where(CpuKernels.CanRun))
            foreach (var precision in new[] { WeightPrecision.F32, WeightPrecision.BF16 })
                data.Add(isa.ToString(), precision);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void EachTarget_GetsWhatItsOwnProductGives(string isaName, WeightPrecision precision)
    {
        var isa = Enum.Parse<CpuIsa>(isaName);
        // Decode, small batches (the dot kernels) and prompts of one tile and of three (the GEMM, x packed once for
        // all targets); widths of Q/K/V with grouped heads (unequal) and of gate/up (equal); K off the vector widths.
        foreach (int rows in new[] { 1, 3, 5, 17, 130 })
            foreach (int k in new[] { 7, 64, 100 })
                foreach (int[] widths in new[] { new[] { 300, 130, 130 }, new[] { 200, 200 } })
                {
                    string what = $"{isa} {precision} T={rows} K={k} N=({string.Join(", ", widths)})";
                    var x = TestData.Random(rows * k, rows + k);
                    var weights = widths.Select((n, i) => WeightMatrix.Create(TestData.Random(n * k, 100 + i), n, k, precision)).ToArray();
                    var fused = widths.Select(n => Enumerable.Repeat(float.NaN, rows * n).ToArray()).ToArray();
                    CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, weights.Select((w, i) => new MatMulTarget(w, widths[i], fused[i])).ToArray(), isa);
                    for (int i = 0; i < widths.Length; i++)
                    {
                        var alone = new float[rows * widths[i]];
                        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, weights[i], widths[i], alone, null, isa);
                        Assert.True(alone.AsSpan().SequenceEqual(fused[i]), $"{what}: target {i} differs from its own product.");
                    }
                }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(40)]
    [InlineData(130)]
    public void EquallyWideTargets_LetAnEpilogueReadAnEarlierTargetsFinishedSegment(int rows)
    {
        // SwiGLU: gate's epilogue applies silu, up's multiplies by gate's result over the same segment.
        const int k = 96, n = 1000;
        var x = TestData.Random(rows * k, 1);
        var gate = WeightMatrix.Create(TestData.Random(n * k, 2), n, k, WeightPrecision.F32);
        var up = WeightMatrix.Create(TestData.Random(n * k, 3), n, k, WeightPrecision.F32);
        var silu = new float[rows * n];
        var product = new float[rows * n];
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k,
        [
            new(gate, n, silu, (segment, _, _) => Activations.Silu(segment)),
            new(up, n, product, (segment, row, column) => Elementwise.Multiply(segment, silu.AsSpan(row * n + column, segment.Length))),
        ]);

        var expectedGate = new float[rows * n];
        var expected = new float[rows * n];
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, gate, n, expectedGate, (segment, _, _) => Activations.Silu(segment));
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, up, n, expected);
        Elementwise.Multiply(expected, expectedGate);
        Assert.Equal(expected, product);
    }

    [Fact]
    public void ATargetWithoutColumns_IsSkipped_InDecodeAndInPrompts()
    {
        var w = WeightMatrix.Create(TestData.Random(5 * 8, 1), 5, 8, WeightPrecision.F32);
        var empty = WeightMatrix.Create([], 0, 8, WeightPrecision.F32);
        foreach (int rows in new[] { 1, 20 })
        {
            var y = new float[rows * 5];
            CpuKernels.MatMul(CpuExecution.AllCores, TestData.Random(rows * 8, 2), rows, 8, [new(empty, 0, []), new(w, 5, y)]);
            Assert.Contains(y, v => v != 0);
        }
    }

    [Fact]
    public void ATargetOfAnotherShape_IsRefused()
    {
        var w = WeightMatrix.Create(new float[12], 3, 4, WeightPrecision.F32);
        var error = Assert.Throws<ArgumentException>(() =>
            CpuKernels.MatMul(CpuExecution.AllCores, new float[8], 2, 4, [new(w, 3, new float[6]), new(w, 4, new float[8])]));
        Assert.Contains("(3, 4) weight matrix cannot make (4, 4)", error.Message);
    }
}
