namespace Tessera.Generation;

/// <summary>
/// The per-request histograms of the finished requests (every one, not a recent window), as vLLM keeps them. The
/// phases: queued (submission to a slot), prefill (a slot to the first token), decode (first token to the end),
/// inference (prefill and decode), end to end (all of it). Times in seconds.
/// </summary>
/// <param name="TimeToFirstToken">from submission until the first token</param>
/// <param name="InterToken">every gap between two consecutive tokens of a request</param>
/// <param name="EndToEnd">from submission until the request finished</param>
/// <param name="Queue">from submission until the request got a slot in the batch</param>
/// <param name="Prefill">from its slot until its first token</param>
/// <param name="Decode">from its first token until it finished</param>
/// <param name="Inference">from its slot until it finished</param>
/// <param name="PromptTokens">prompt tokens per request</param>
/// <param name="GenerationTokens">generated tokens per request</param>
public sealed record RequestHistograms(
    HistogramSnapshot TimeToFirstToken, HistogramSnapshot InterToken, HistogramSnapshot EndToEnd, HistogramSnapshot Queue,
    HistogramSnapshot Prefill, HistogramSnapshot Decode, HistogramSnapshot Inference, HistogramSnapshot PromptTokens, HistogramSnapshot GenerationTokens);
