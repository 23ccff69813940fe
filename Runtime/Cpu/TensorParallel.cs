using Tessera.Parallelism;

namespace Tessera.Cpu;

public static partial class CpuKernels
{
    /// <summary>A row-parallel product with F32 weights (see the WeightMatrix overload).</summary>
    public static void RowParallelMatMul(CpuExecution cpu, float[] x, int rows, int k, float[] w, int n, float[] y, ICollectiveGroup group, Epilogue? epilogue = null) =>
        RowParallelMatMul(cpu, x, rows, k, WeightMatrix.Create(w, n, k, WeightPrecision.F32), n, y, group, epilogue);

    /// <summary>
    /// logits (rows, vocab) = the columns every rank of a vocab-parallel head computed, rank r's at [r * localWidth, ...):
    /// each rank holds localWidth = ceil(vocab / group size) columns, and those past the vocabulary (the padding of a
    /// vocabulary the degree does not divide) are dropped, so they never reach sampling or the output.
    /// </summary>
    public static void GatherLogits(ICollectiveGroup group, float[] local, int rows, int localWidth, int vocab, float[] logits)
    {
        ArgumentNullException.ThrowIfNull(group);
        long padded = (long)localWidth * group.Size;
        if (padded < vocab) throw new ArgumentException($"{group.Size} ranks of {localWidth} columns cannot hold a vocabulary of {vocab}.", nameof(localWidth));
        if (padded == vocab)
        {
            group.AllGatherColumns(local, rows, localWidth, logits);
            return;
        }
        var gathered = System.Buffers.ArrayPool<float>.Shared.Rent(checked((int)(rows * padded)));
        try
        {
            group.AllGatherColumns(local, rows, localWidth, gathered);
            CopyColumns(gathered, rows, (int)padded, 0, vocab, logits);
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(gathered);
        }
    }
}
