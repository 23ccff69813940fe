using System.Runtime.CompilerServices;
using Tessera.Cpu;

namespace Tessera.Runtime.Tests.Cpu;

public class MatMulTests
{
    private static readonly int[] Sizes = [1, 7, 16, 64, 176, 255, 769];

    /// <summary>
    /// Every kernel the dispatcher can pick, as "isa.path": "Auto" (what the public entry runs here), then the GEMM and
    /// the dot kernels of every ISA level this machine runs (the portable Vector256 ones run everywhere).
    /// </summary>
    private static string[] PathNames =>
    [
        nameof(MatMulPath.Auto),
        .. Enum.GetValues<CpuIsa>().Where(CpuKernels.CanRun)
            .SelectMany(isa => new[] { $"{isa}.{nameof(MatMulPath.Gemm)}", $"{isa}.{nameof(MatMulPath.Dot)}" }),
    ];

    /// <summary>"Auto" or "isa.path" → the internal entry's arguments.</summary>
    private static (CpuIsa Isa, MatMulPath Path) Parse(string name) =>
        name == nameof(MatMulPath.Auto)
            ? (CpuKernels.DetectedIsa, MatMulPath.Auto)
            : (Enum.Parse<CpuIsa>(name[..name.IndexOf('.')]), Enum.Parse<MatMulPath>(name[(name.IndexOf('.') + 1)..]));

    public static TheoryData<string> Paths() => new(PathNames);

    public static TheoryData<string, int> PathsAndRows()
    {
        var data = new TheoryData<string, int>();
        foreach (var path in PathNames)
            foreach (int rows in new[] { 1, 2, 3, 5, 17, 128 })
                data.Add(path, rows);
        return data;
    }

    [Theory]
    [MemberData(nameof(PathsAndRows))]
    public void MatMul_MatchesReference_OnAwkwardShapes(string path, int rows)
    {
        foreach (int k in Sizes)
            foreach (int n in Sizes)
                CheckAgainstReference(path, rows, k, n, seed: rows * 7919 + k * 31 + n);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void MatMul_MatchesReference_WhenRowsSpanSeveralTilesAndChunks(string path)
    {
        // 200 rows = 3 full 64-row tiles + an 8-row tail; 1000 columns = several column chunks with a 4-column tail.
        CheckAgainstReference(path, 200, 96, 1000, seed: 5);
        CheckAgainstReference(path, 65, 300, 13, seed: 6);
        // 5 tiles of K = 600: several tiles per worker, K not a multiple of the vector width.
        CheckAgainstReference(path, 300, 600, 70, seed: 7);
        // K deeper than one 1024-deep pass of the GEMM: the later passes add into y.
        CheckAgainstReference(path, 70, 2100, 13, seed: 8);
    }

    [Fact]
    public void MatMul_GivesTheSameResult_OnOneThreadAndOnMany()
    {
        var x = TestData.Random(130 * 200, 1);
        var w = TestData.Random(301 * 200, 2);
        var one = new float[130 * 301];
        var many = new float[130 * 301];
        CpuKernels.MatMul(CpuExecution.SingleThread, x, 130, 200, w, 301, one);
        CpuKernels.MatMul(new CpuExecution(4), x, 130, 200, w, 301, many);
        Assert.Equal(one, many);
    }

    [Fact]
    public void MatMul_WithZeroInputFeatures_WritesZeros()
    {
        var y = Enumerable.Repeat(5f, 6).ToArray();
        CpuKernels.MatMul(CpuExecution.AllCores, [], 2, 0, [], 3, y);
        Assert.All(y, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void MatMul_RejectsArraysShorterThanTheShape()
    {
        Assert.Throws<ArgumentException>(() => CpuKernels.MatMul(CpuExecution.AllCores, new float[5], 2, 3, new float[12], 4, new float[8]));
        Assert.Throws<ArgumentException>(() => CpuKernels.MatMul(CpuExecution.AllCores, new float[6], 2, 3, new float[11], 4, new float[8]));
        Assert.Throws<ArgumentException>(() => CpuKernels.MatMul(CpuExecution.AllCores, new float[6], 2, 3, new float[12], 4, new float[7]));
    }

    public static TheoryData<string, int, int, int> EpilogueCases()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var path in PathNames)
        {
            data.Add(path, 1, 64, 176);
            data.Add(path, 3, 7, 255);
            data.Add(path, 17, 16, 769);
            data.Add(path, 130, 64, 1000);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EpilogueCases))]
    public void MatMul_CallsEpilogueExactlyOncePerElement_WithItsRowAndColumn(string path, int rows, int k, int n)
    {
        var x = TestData.Random(rows * k, 1);
        var w = TestData.Random(n * k, 2);
        var expected = new float[rows * n];
        ReferenceKernels.MatMul(x, rows, k, w, n, expected);
        var y = new float[rows * n];
        var calls = new int[rows * n];
        string? problem = null;
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, y, (segment, row, column) =>
        {
            if (segment.Length == 0 || row < 0 || row >= rows || column < 0 || column + segment.Length > n)
            {
                problem ??= $"segment ({row}, {column}, length {segment.Length}) is outside y";
                return;
            }
            if (!Unsafe.AreSame(ref segment[0], ref y[row * n + column]))
                problem ??= $"segment ({row}, {column}) does not point at y[{row}, {column}]";
            for (int i = 0; i < segment.Length; i++)
            {
                int index = row * n + column + i;
                Interlocked.Increment(ref calls[index]);
                // The segment is final when handed over; the epilogue then applies a position-dependent change.
                if (Math.Abs(segment[i] - expected[index]) > 1e-4f * (1 + Math.Abs(expected[index])))
                    problem ??= $"y[{row}, {column + i}] = {segment[i]} is not final when its epilogue runs (expected {expected[index]})";
                segment[i] = segment[i] * 2 + row * 1000 + column + i;
            }
        }, Parse(path).Isa, Parse(path).Path);
        Assert.Null(problem);
        for (int i = 0; i < calls.Length; i++)
            Assert.True(calls[i] == 1, $"y[{i / n}, {i % n}] was passed to the epilogue {calls[i]} times.");
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
                Assert.Equal(expected[r * n + j] * 2 + r * 1000 + j, y[r * n + j], 1e-2f);
    }

    private static void CheckAgainstReference(string path, int rows, int k, int n, int seed)
    {
        var x = TestData.Random(rows * k, seed);
        var w = TestData.Random(n * k, seed + 1);
        var expected = new float[rows * n];
        ReferenceKernels.MatMul(x, rows, k, w, n, expected);
        // The size of the summed terms, Σ|x||w|, bounds any reordering error of the sum.
        var magnitude = new float[rows * n];
        ReferenceKernels.MatMul(x.Select(Math.Abs).ToArray(), rows, k, w.Select(Math.Abs).ToArray(), n, magnitude);
        // Extra elements after the output must survive: the kernel writes only rows * n.
        var y = Enumerable.Repeat(float.NaN, rows * n + 3).ToArray();
        CpuKernels.MatMul(CpuExecution.AllCores, x, rows, k, w, n, y, null, Parse(path).Isa, Parse(path).Path);
        TestData.AssertClose(expected, y, magnitude, 1e-5, $"{path} T={rows} K={k} N={n}");
        Assert.True(y[^3..].All(float.IsNaN), $"{path} T={rows} K={k} N={n}: wrote past rows * n.");
    }
}
