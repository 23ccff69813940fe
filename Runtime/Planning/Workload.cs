namespace Tessera.Planning;

/// <summary>What a deployment serves: a batch of requests of <see cref="Prompt"/> tokens, each generating <see cref="Output"/>.</summary>
/// <param name="Batch">requests served at once (the latency question's batch)</param>
/// <param name="Prompt">prompt tokens per request</param>
/// <param name="Output">generated tokens per request</param>
/// <param name="Weights">how weights are held</param>
/// <param name="KvCache">how the KV cache is held</param>
public sealed record Workload(int Batch, int Prompt, int Output, PlanDType Weights, PlanDType KvCache)
{
    /// <summary>Positions a request holds at its end.</summary>
    public int Context => Prompt + Output;
}
