namespace Tessera.Cpu;

/// <summary>
/// What a rank program's host side needs beyond its place in the plan (<see cref="Parallelism.RankContext"/>): how it
/// holds its matrix weights, and the threads its CPU kernels may use (its device's share of the cores). Kept out of the
/// rank contract: a plan's coordinates and links mean the same on every back end; these are how one process runs it.
/// </summary>
/// <param name="Precision">as stored (F32 for safetensors; a GGUF file's block types), F32, BF16 (half the bytes; F32 accumulation), Q8_0 or Q4_0</param>
/// <param name="Execution">the threads each kernel call may use</param>
public sealed record CpuRankOptions(WeightPrecision Precision, CpuExecution Execution)
{
    /// <summary>Weights as the checkpoint stores them (F32 from safetensors), every core: one device alone in the process.</summary>
    public static CpuRankOptions Default { get; } = new(WeightPrecision.Stored, CpuExecution.AllCores);

    /// <summary>
    /// How embedding tables are held: as stored (a GGUF file's quantized table stays quantized, each looked-up row
    /// dequantized) or F32. A lookup reads one row a token, so rounding a table to BF16 or quantizing it at load would
    /// only lose precision.
    /// </summary>
    public WeightPrecision TablePrecision => Precision == WeightPrecision.Stored ? WeightPrecision.Stored : WeightPrecision.F32;
}
