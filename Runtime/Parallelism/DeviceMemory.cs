namespace Tessera.Parallelism;

/// <summary>
/// What one virtual device holds, by kind: each device accounts for its own memory, as a GPU would, so a report can
/// show that tensor parallelism really gives every device ~1/T of the weights. Adds are thread-safe.
/// </summary>
public sealed class DeviceMemory
{
    private long _weights, _activations, _kvCache;

    public long Weights => Interlocked.Read(ref _weights);

    /// <summary>Activation workspace.</summary>
    public long Activations => Interlocked.Read(ref _activations);

    /// <summary>Rank-local KV caches allocated on the device.</summary>
    public long KvCache => Interlocked.Read(ref _kvCache);

    public long Total => Weights + Activations + KvCache;

    public void AddWeights(long bytes) => Interlocked.Add(ref _weights, bytes);

    public void AddActivations(long bytes) => Interlocked.Add(ref _activations, bytes);

    /// <summary>The workspace grows with the largest batch seen: the device reports its current size.</summary>
    public void SetActivations(long bytes) => Interlocked.Exchange(ref _activations, bytes);

    public void AddKvCache(long bytes) => Interlocked.Add(ref _kvCache, bytes);

    /// <summary>"weights 1.2 MB, KV cache 64 KiB, activations 8 KiB, total 1.27 MB".</summary>
    public override string ToString() =>
        $"weights {ByteSize.Format(Weights)}, KV cache {ByteSize.Format(KvCache)}, activations {ByteSize.Format(Activations)}, total {ByteSize.Format(Total)}";
}
