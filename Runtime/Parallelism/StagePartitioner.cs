namespace Tessera.Parallelism;

/// <summary>
/// Cuts the layers into contiguous pipeline stages so that the slowest stage is as fast as possible: a pipeline runs
/// at the pace of its slowest stage, so the maximum, not the sum, is what to minimise.
/// </summary>
public static class StagePartitioner
{
    /// <summary>Compute throughput assumed by the cost model (a modest CPU), in FLOP/s.</summary>
    public const double FlopsPerSecond = 100e9;

    /// <summary>Memory bandwidth assumed by the cost model, in bytes/s.</summary>
    public const double BytesPerSecond = 50e9;

    /// <summary>
    /// Estimated seconds of one layer: its FLOPs per token at <see cref="FlopsPerSecond"/> plus streaming its weights once
    /// at <see cref="BytesPerSecond"/>. A simple roofline-like sum: decode is bandwidth-bound, prefill compute-bound, and
    /// the mix ranks stages the same way either way.
    /// </summary>
    public static double LayerSeconds(ModelFacts facts) =>
        facts.LayerFlopsPerToken / FlopsPerSecond + facts.LayerWeightBytes / BytesPerSecond;

    /// <summary>Estimated seconds of the stage that holds layers [first, end): its layers, plus the embeddings if first, plus the head if last.</summary>
    public static double StageSeconds(ModelFacts facts, int first, int end)
    {
        double cost = (end - first) * LayerSeconds(facts);
        if (first == 0) cost += facts.EmbeddingWeightBytes / BytesPerSecond; // a gather: bytes, no FLOPs worth counting
        if (end == facts.Layers) cost += facts.HeadFlopsPerToken / FlopsPerSecond + facts.HeadWeightBytes / BytesPerSecond;
        return cost;
    }

    /// <summary>
    /// Layers per stage minimising the most expensive stage; contiguous, every stage at least one layer. Among equally
    /// good splits the earlier stages get more layers, since the last stage also carries the head.
    /// </summary>
    public static int[] Balance(ModelFacts facts, int stages)
    {
        int layers = facts.Layers;
        if (stages < 1 || stages > layers)
            throw new ArgumentOutOfRangeException(nameof(stages), $"{stages} stages cannot be cut from {layers} layers (each stage needs at least one).");

        return ContiguousPartition.Balance(layers, stages, (first, end) => StageSeconds(facts, first, end));
    }

    /// <summary>The layers [First, End) of each stage of a split.</summary>
    public static (int First, int End)[] LayerRanges(int[] split)
    {
        var ranges = new (int, int)[split.Length];
        int first = 0;
        for (int j = 0; j < split.Length; j++)
        {
            ranges[j] = (first, first + split[j]);
            first += split[j];
        }
        return ranges;
    }
}
