namespace Tessera.Planning;

/// <summary>What to rank plans by.</summary>
public enum AdviceGoal
{
    /// <summary>A request's end-to-end time at the workload's batch: time to first token plus the rest of its tokens.</summary>
    Latency,

    /// <summary>Output tokens per second at the largest batch that fits.</summary>
    Throughput,
}
