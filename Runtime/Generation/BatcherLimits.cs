namespace Tessera.Generation;

/// <summary>
/// What one <see cref="ContinuousBatcher"/> may hold at once: sequences in flight, requests waiting, KV-cache memory,
/// and prompt tokens per step. The defaults suit a single user; a server sets them from its command line.
/// </summary>
public sealed record BatcherLimits
{
    /// <summary>The default prompt tokens prefilled in one step (vLLM's max_num_batched_tokens is of this order).</summary>
    public const int DefaultPrefillChunkTokens = 512;

    /// <summary>The default number of requests that may wait for a slot.</summary>
    public const int DefaultMaxQueued = 256;

    /// <summary>The most sequences that run together (each holds a KV cache).</summary>
    public int MaxInFlight { get; init; } = ContinuousBatcher.DefaultMaxInFlight;

    /// <summary>
    /// The most requests waiting for a slot (0: a request is taken only when a slot is free); one more is refused with a
    /// <see cref="QueueFullException"/>.
    /// </summary>
    public int MaxQueued { get; init; } = DefaultMaxQueued;

    /// <summary>
    /// The most KV-cache bytes the sequences in flight may hold together, or null for no limit. A sequence is admitted
    /// with the positions it may come to need (prompt + max tokens, up to the context) and waits in the queue while they
    /// do not fit beside those of the sequences already running; a request that could not fit alone is refused with a
    /// <see cref="KvCacheLimitException"/>.
    /// </summary>
    public long? KvCacheBytes { get; init; }

    /// <summary>
    /// The most prompt tokens run in one step, over all sequences being prefilled: a long prompt is prefilled in chunks
    /// of this size, one per step, between the decode steps of the other sequences (chunked prefill, as vLLM does), so
    /// it cannot stall them for its whole prefill.
    /// </summary>
    public int PrefillChunkTokens { get; init; } = DefaultPrefillChunkTokens;

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first limit out of range.</summary>
    public void Validate()
    {
        if (MaxInFlight < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxInFlight), MaxInFlight, $"At least one sequence must be in flight (got {MaxInFlight}).");
        if (MaxQueued < 0)
            throw new ArgumentOutOfRangeException(nameof(MaxQueued), MaxQueued, $"The queue limit must be 0 or more (got {MaxQueued}).");
        if (KvCacheBytes is <= 0)
            throw new ArgumentOutOfRangeException(nameof(KvCacheBytes), KvCacheBytes, $"The KV-cache limit must be positive (got {KvCacheBytes} bytes).");
        if (PrefillChunkTokens < 1)
            throw new ArgumentOutOfRangeException(nameof(PrefillChunkTokens), PrefillChunkTokens, $"At least one prompt token must run per step (got {PrefillChunkTokens}).");
    }
}
