namespace Tessera.Generation;

/// <summary>How the requests a batcher took ended, as vLLM counts them (request_success_total by finished_reason).</summary>
/// <param name="Stop">finished on a stop token or string</param>
/// <param name="Length">finished at max tokens or a full context</param>
/// <param name="Abort">cancelled: the client went away, its time was up, or the batcher stopped</param>
/// <param name="Error">failed (a prompt the model cannot run, a KV cache that could not be allocated, a forward that threw)</param>
public sealed record RequestOutcomes(long Stop, long Length, long Abort, long Error)
{
    public static RequestOutcomes None { get; } = new(0, 0, 0, 0);
}
