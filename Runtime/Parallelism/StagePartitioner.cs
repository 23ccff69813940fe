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
        if (stages == 1) return [layers];
        // The balancer is exact and O(stages x layers^2) in time, O(stages x layers) in memory: instant for real models
        // (tens of layers), a hang or an overflow for a config that claims 2^31-1 of them before any tensor is read.
        if (layers > MaxBalancedLayers)
            throw new PlanException($"{layers} layers are more than the pipeline balancer splits (at most {MaxBalancedLayers}): check the config's layer count, or give the split with --layers-per-stage.");

        return facts.Cost.Balance(stages);
    }

    /// <summary>The most layers <see cref="Balance"/> splits; real models have at most a few hundred.</summary>
    public const int MaxBalancedLayers = 4_096;

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
