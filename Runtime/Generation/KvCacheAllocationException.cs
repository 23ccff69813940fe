namespace Tessera.Generation;

/// <summary>
/// The memory for one request's KV cache could not be allocated. Only that request fails: the batcher goes on with the
/// others (a server answers 503, to be retried).
/// </summary>
public sealed class KvCacheAllocationException(int positions, Exception inner)
    : Exception($"Out of memory for this request's KV cache ({positions} positions): retry later or with a shorter prompt or max_tokens.", inner);
