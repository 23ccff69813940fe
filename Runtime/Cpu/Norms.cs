using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Tessera.Cpu;

// Row-wise normalisations. TensorPrimitives vectorises each row with the widest vectors the machine has; rows are
// independent, so many rows (prefill) split over threads. y may alias x: a row is fully read before it is written.
public static partial class CpuKernels
{
    /// <summary>y (T, C) = x · rsqrt(mean(x²) + eps) · w.</summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(CpuExecution cpu, float[] x, float[] weight, float[] y, int rows, int dim, float eps)
    {
        CheckRows(x, weight, y, rows, dim);
        CpuParallel.ForRanges(rows, CpuParallel.Workers(cpu, rows, 4L * dim), (start, end) =>
        {
            var w = weight.AsSpan(0, dim);
            for (int r = start; r < end; r++)
            {
                var xr = x.AsSpan(r * dim, dim);
                var yr = y.AsSpan(r * dim, dim);
                float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(xr) / dim + eps);
                TensorPrimitives.Multiply(xr, scale, yr);
                TensorPrimitives.Multiply(yr, w, yr);
            }
        });
    }

    /// <summary>y (T, C) = (x - mean) · rsqrt(var + eps) · w + b, biased variance.</summary>
    // Hot loop: compiled fully optimised at once; tier-0 code of Vector512 loops is many times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LayerNorm(CpuExecution cpu, float[] x, float[] weight, float[] bias, float[] y, int rows, int dim, float eps)
    {
        CheckRows(x, weight, y, rows, dim);
        CheckLength(bias, dim, nameof(bias));
        CpuParallel.ForRanges(rows, CpuParallel.Workers(cpu, rows, 6L * dim), (start, end) =>
        {
            var w = weight.AsSpan(0, dim);
            var b = bias.AsSpan(0, dim);
            for (int r = start; r < end; r++)
            {
                var xr = x.AsSpan(r * dim, dim);
                var yr = y.AsSpan(r * dim, dim);
                float mean = TensorPrimitives.Sum(xr) / dim;
                // Two passes (centre, then square) as in the definition: one-pass E[x²] - mean² cancels badly.
                TensorPrimitives.Subtract(xr, mean, yr);
                float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(yr) / dim + eps);
                TensorPrimitives.Multiply(yr, scale, yr);
                TensorPrimitives.FusedMultiplyAdd(yr, w, b, yr);
            }
        });
    }

    private static void CheckRows(float[] x, float[] weight, float[] y, int rows, int dim)
    {
        if (rows < 0 || dim < 0) throw new ArgumentOutOfRangeException(nameof(rows), $"Shape ({rows}, {dim}) has a negative size.");
        CheckLength(x, (long)rows * dim, nameof(x));
        CheckLength(y, (long)rows * dim, nameof(y));
        CheckLength(weight, dim, nameof(weight));
    }
}
