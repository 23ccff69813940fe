using Tessera.Parallelism;

namespace Tessera.Cpu;

public static partial class CpuKernels
{
    /// <summary>
    /// A row-parallel product (Megatron): this rank multiplies its slice of the input features, the group all-reduces
    /// the partial sums, and only then does the epilogue run (bias, residual add): it must see the whole sum, once.
    /// With a group of one this is a plain <see cref="MatMul"/> with the epilogue fused.
    /// </summary>
    public static void RowParallelMatMul(float[] x, int rows, int k, float[] w, int n, float[] y, ITensorGroup group, Epilogue? epilogue = null)
    {
        if (group.Size == 1)
        {
            MatMul(x, rows, k, w, n, y, epilogue);
            return;
        }
        MatMul(x, rows, k, w, n, y);
        group.AllReduceSum(y, rows * n);
        if (epilogue is not null)
            for (int r = 0; r < rows; r++) epilogue(y.AsSpan(r * n, n), r, 0);
    }
}
