namespace Tessera.Generation;

/// <summary>What one device holds, in bytes.</summary>
/// <param name="Device">"cpu:0", ...</param>
/// <param name="Weights">its weights (its shard under tensor or pipeline parallelism)</param>
/// <param name="KvCache">the KV caches allocated on it</param>
/// <param name="Activations">its activation workspace (0 where the engine does not report it)</param>
public sealed record DeviceMemoryUsage(string Device, long Weights, long KvCache, long Activations)
{
    public long Total => Weights + KvCache + Activations;
}
