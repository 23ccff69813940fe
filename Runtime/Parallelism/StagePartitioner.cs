namespace Tessera.Parallelism;

/// <summary>
/// Cuts the layers into contiguous pipeline stages so that the slowest stage is as fast as possible: a pipeline runs
/// at the pace of its slowest stage, so the maximum, not the sum, is what to minimise.
/// </summary>
public static class StagePartitioner
{
    /// <summary>
    /// Estimated seconds of the stage that holds layers [first, end): its layers, plus the embeddings if first, plus
    /// the head if last, by the one cost model (<see cref="Planning.ModelCost.StageSeconds"/>), which [Compile] units
    /// fold their splits with too.
    /// </summary>
    public static double StageSeconds(ModelFacts facts, int first, int end) => facts.Cost.StageSeconds(first, end);

    /// <summary>
    /// Layers per stage minimising the most expensive stage; contiguous, every stage at least one layer. Among equally
    /// good splits the earlier stages get more layers, since the last stage also carries the head.
    /// </summary>
    public static int[] Balance(ModelFacts facts, int stages)
    {
        int layers = facts.Layers;
        if (stages < 1 || stages > layers)
            throw new ArgumentOutOfRangeException(nameof(stages), $"{stages} stages cannot be cut from {layers} layers (each stage needs at least one).");

        return facts.Cost.Balance(stages);
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
