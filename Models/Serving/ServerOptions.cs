namespace Tessera.Models.Serving;

/// <summary>
/// What the HTTP layer bounds per request, beside the batcher's <see cref="Generation.BatcherLimits"/>, and how it
/// renders chat prompts.
/// </summary>
public sealed record ServerOptions
{
    /// <summary>The default wall-clock limit of one request.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The most tokens one request may ask for (max_tokens), or null for up to the context.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>A request still running after this long is ended (408 or, streaming, an error event); null: no limit.</summary>
    public TimeSpan? RequestTimeout { get; init; } = DefaultRequestTimeout;

    /// <summary>The checkpoint's chat template (<see cref="Tessera.Text.CheckpointChatTemplate.Load"/>); null: the plain template of <see cref="ChatTemplate"/>.</summary>
    public Tessera.Text.CheckpointChatTemplate? ChatTemplate { get; init; }

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (MaxTokens is < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, $"--max-tokens must be at least 1 (got {MaxTokens}).");
        if (RequestTimeout is { } timeout && timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), timeout, $"--request-timeout must be positive (got {timeout.TotalSeconds} s).");
    }
}
