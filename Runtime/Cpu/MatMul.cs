using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Cpu;

/// <summary>How <see cref="CpuKernels.MatMul(float[], int, int, float[], int, float[], Epilogue?)"/> computes; tests force each path.</summary>
internal enum MatMulPath
{
    /// <summary>Pick by hardware and shape.</summary>
    Auto,

    /// <summary>Packed-activation GEMM with a 6 x 64 Vector512 micro-kernel (prefill).</summary>
    Gemm512,

    /// <summary>Dot products along K, 4 weight rows x up to 4 activation rows (decode, small batches).</summary>
    Dot512,

    /// <summary>TensorPrimitives dot products: whatever vector width the machine has.</summary>
    Portable,
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
    public static void MatMul(float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue = null) =>
        MatMul(x, rows, k, w, n, y, epilogue, MatMulPath.Auto);

    internal static void MatMul(float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue, MatMulPath path)
    {
        if (rows < 0 || k < 0 || n < 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"MatMul shape ({rows}, {k}) x ({n}, {k}) has a negative size.");
        CheckLength(x, (long)rows * k, nameof(x));
        CheckLength(w, (long)n * k, nameof(w));
        CheckLength(y, (long)rows * n, nameof(y));
        if (rows == 0 || n == 0) return;

        if (path == MatMulPath.Auto)
        {
            path = !(Vector512.IsHardwareAccelerated && Avx512F.IsSupported) ? MatMulPath.Portable
                : rows >= GemmMinRows ? MatMulPath.Gemm512
                : MatMulPath.Dot512;
        }
        switch (path)
        {
            case MatMulPath.Gemm512: GemmMatMul(x, rows, k, w, n, y, epilogue); break;
            case MatMulPath.Dot512: DotMatMul(x, rows, k, w, n, y, epilogue); break;
            default: PortableMatMul(x, rows, k, w, n, y, epilogue); break;
        }
    }

    /// <summary>Column chunks small enough that a chunk of y is still in L1/L2 when its epilogue runs.</summary>
    private const int EpilogueChunk = 128;

    /// <summary>
    /// Machines without AVX-512: one TensorPrimitives dot product per output (it picks Vector256 or Vector128).
    /// Parallel over column chunks, so decode still uses every core.
    /// </summary>
    private static void PortableMatMul(float[] x, int rows, int k, float[] w, int n, float[] y, Epilogue? epilogue)
    {
        int chunks = (n + EpilogueChunk - 1) / EpilogueChunk;
        int workers = CpuParallel.Workers(chunks, 2L * rows * k * Math.Min(n, EpilogueChunk));
        CpuParallel.ForRanges(chunks, workers, (start, end) =>
        {
            for (int c = start; c < end; c++)
            {
                int n0 = c * EpilogueChunk, n1 = Math.Min(n, n0 + EpilogueChunk);
                for (int r = 0; r < rows; r++)
                {
                    var xr = x.AsSpan(r * k, k);
                    for (int j = n0; j < n1; j++) y[r * n + j] = TensorPrimitives.Dot(xr, w.AsSpan(j * k, k));
                    epilogue?.Invoke(y.AsSpan(r * n + n0, n1 - n0), r, n0);
                }
            }
        });
    }
}
