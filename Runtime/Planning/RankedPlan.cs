using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>A plan in the advisor's ranking, with its prediction and a sentence on why it ranks where it does.</summary>
/// <param name="Prediction">its predicted memory and speed</param>
/// <param name="Asked">whether it was asked for by flags</param>
/// <param name="Explanation">one sentence</param>
public sealed record RankedPlan(PlanPrediction Prediction, bool Asked, string Explanation)
{
    public ParallelPlan Plan => Prediction.Plan;
}
