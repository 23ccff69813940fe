namespace Tessera.Cpu;

/// <summary>Which algorithm <see cref="CpuKernels.MatMul(float[], int, int, float[], int, float[], Epilogue?)"/> runs; tests force each.</summary>
internal enum MatMulPath
{
    /// <summary>Pick by shape: <see cref="Gemm"/> from <see cref="CpuKernels.GemmMinRows"/> rows, else <see cref="Dot"/>.</summary>
    Auto,

    /// <summary>Packed-activation GEMM: a 6-column register-blocked micro-kernel over 64-row tiles of x (prefill).</summary>
    Gemm,

    /// <summary>Dot products along K, a few weight rows x a few activation rows at once (decode, small batches).</summary>
    Dot,
}

public static partial class CpuKernels
{
    /// <summary>
    /// From this many rows the packed GEMM wins: below it a 16-lane tile along T is mostly padding, and the weights
    /// (read once by the dot kernel) dominate anyway.
    /// </summary>
    internal const int GemmMinRows = 16;

    /// <summary>
    /// y (T, N) = x (T, K) · wᵀ, w (N, K); then <paramref name="epilogue"/> on each finished segment.
    /// </summary>
    /// <remarks>
    /// Each output element is in exactly one segment, and a segment is a sub-range of one row, passed as
    /// (segment, row, first column). Segments are handed out while still in cache, possibly from several threads at
    /// once (never the same element twice), so an epilogue must only touch its own segment and read shared data.
    /// </remarks>
    public static void MatMul(CpuExecution cpu, float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue = null) =>
        MatMul(cpu, x, rows, k, w, n, y, epilogue, DetectedIsa);

    /// <summary>The product with the kernels written for <paramref name="isa"/> (tests run every level the machine can).</summary>
    internal static void MatMul(CpuExecution cpu, float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue, CpuIsa isa,
        MatMulPath path = MatMulPath.Auto)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        if (rows < 0 || k < 0 || n < 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"MatMul shape ({rows}, {k}) x ({n}, {k}) has a negative size.");
        CheckLength(x, (long)rows * k, nameof(x));
        CheckLength(w, (long)n * k, nameof(w));
        CheckLength(y, (long)rows * n, nameof(y));
        if (rows == 0 || n == 0) return;

        if (path == MatMulPath.Auto) path = rows >= GemmMinRows ? MatMulPath.Gemm : MatMulPath.Dot;
        if (path == MatMulPath.Gemm) Gemm(cpu, x, rows, k, [new MatMulTarget(WeightMatrix.Wrap(w, n, k), n, y, epilogue)], isa);
        else DotMatMul(cpu, x, rows, k, w, n, y, epilogue, isa);
    }

    /// <summary>Column chunks small enough that a chunk of y is still in L1/L2 when its epilogue runs.</summary>
    private const int EpilogueChunk = 128;
}
