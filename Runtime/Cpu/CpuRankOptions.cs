namespace Tessera.Cpu;

/// <summary>
/// What a rank program's host side needs beyond its place in the plan (<see cref="Parallelism.RankContext"/>): how it
/// holds its matrix weights, and the threads its CPU kernels may use (its device's share of the cores). Kept out of the
/// rank contract: a plan's coordinates and links mean the same on every back end; these are how one process runs it.
/// </summary>
/// <param name="Precision">F32, or BF16 (half the bytes; F32 accumulation)</param>
/// <param name="Execution">the threads each kernel call may use</param>
public sealed record CpuRankOptions(WeightPrecision Precision, CpuExecution Execution)
{
    /// <summary>F32 weights, every core: one device alone in the process.</summary>
    public static CpuRankOptions Default { get; } = new(WeightPrecision.F32, CpuExecution.AllCores);
}
