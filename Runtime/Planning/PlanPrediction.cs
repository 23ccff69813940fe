using Tessera.Parallelism;

namespace Tessera.Planning;

/// <summary>A plan's predicted memory and speed for a workload on a cluster.</summary>
/// <param name="Plan">the plan</param>
/// <param name="BytesPerDevice">the largest device's bytes at the workload's batch</param>
/// <param name="Fits">whether that fits the usable memory</param>
/// <param name="TtftSeconds">time to first token: the prefill of the batch</param>
/// <param name="TpotSeconds">time per output token: one decode step of the batch</param>
/// <param name="MaxBatch">the most requests that fit at once (0: none)</param>
/// <param name="TokensPerSecond">output tokens per second serving <see cref="MaxBatch"/> requests at a time (prefill included)</param>
/// <param name="Bubble">the pipeline's idle fraction, (p - 1) / (m + p - 1)</param>
/// <param name="CommunicationBytesPerToken">bytes a device sends per decoded token (all collectives and stage transfers)</param>
/// <param name="CommunicationShare">the share of a decode step spent communicating</param>
/// <param name="WeightBytesPerDevice">the largest device's weights</param>
/// <param name="Links">which link each parallel axis uses</param>
public sealed record PlanPrediction(ParallelPlan Plan, long BytesPerDevice, bool Fits, double TtftSeconds, double TpotSeconds, int MaxBatch, double TokensPerSecond,
    double Bubble, double CommunicationBytesPerToken, double CommunicationShare, long WeightBytesPerDevice, IReadOnlyDictionary<string, string> Links)
{
    /// <summary>A request's end-to-end time at the workload's batch: first token, then the rest one step each.</summary>
    public double LatencySeconds(Workload workload) => TtftSeconds + Math.Max(0, workload.Output - 1) * TpotSeconds;
}
