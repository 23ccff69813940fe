namespace Tessera.Planning;

/// <summary>What one device of a plan holds, estimated from the config alone.</summary>
/// <param name="Rank">global rank (layout as <see cref="RankContext"/>)</param>
/// <param name="DataRank">replica</param>
/// <param name="Stage">pipeline stage</param>
/// <param name="SequenceRank">sequence rank</param>
/// <param name="ExpertRank">expert rank</param>
/// <param name="TensorRank">tensor rank</param>
/// <param name="FirstLayer">first layer of its stage</param>
/// <param name="EndLayer">one past its last layer</param>
/// <param name="WeightBytes">its weights at the weight dtype</param>
/// <param name="KvCacheBytes">its share of the KV cache of the batch's sequences, at the cache dtype</param>
/// <param name="ActivationBytes">its activation workspace for a prefill step of its sequences (chunks of at most <see cref="MemoryEstimate.PrefillChunkTokens"/> rows)</param>
public sealed record DeviceEstimate(int Rank, int DataRank, int Stage, int SequenceRank, int ExpertRank, int TensorRank, int FirstLayer, int EndLayer,
    long WeightBytes, long KvCacheBytes, long ActivationBytes)
{
    public long TotalBytes => WeightBytes + KvCacheBytes + ActivationBytes;
}
