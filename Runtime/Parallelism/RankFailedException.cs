namespace Tessera.Parallelism;

/// <summary>An exception thrown on one device during a parallel forward, with where it happened; the original is the inner exception.</summary>
public sealed class RankFailedException(string device, int dataRank, int stage, int tensorRank, int? clock, int? microBatch, Exception inner)
    : Exception(
        $"{device} (data {dataRank}, stage {stage}, tensor {tensorRank}) failed" +
        (microBatch is int m ? $" at clock {clock}, micro-batch {m}" : "") + $": {inner.GetType().Name}: {inner.Message}", inner)
{
    /// <summary>The device's name, "cpu:N".</summary>
    public string Device { get; } = device;

    public int DataRank { get; } = dataRank;

    public int Stage { get; } = stage;

    public int TensorRank { get; } = tensorRank;

    /// <summary>The schedule clock of the failing step (null when the failure came before the first step).</summary>
    public int? Clock { get; } = clock;

    public int? MicroBatch { get; } = microBatch;
}
