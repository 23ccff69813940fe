using Tessera.Parallelism;

namespace Tessera.Cpu;

public static partial class CpuKernels
{
    /// <summary>A row-parallel product with F32 weights (see the WeightMatrix overload).</summary>
    public static void RowParallelMatMul(float[] x, int rows, int k, float[] w, int n, float[] y, ICollectiveGroup group, Epilogue? epilogue = null) =>
        RowParallelMatMul(x, rows, k, WeightMatrix.Create(w, n, k, WeightPrecision.F32), n, y, group, epilogue);
}
