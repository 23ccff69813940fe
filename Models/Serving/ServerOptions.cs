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

    /// <summary>The checkpoint's chat template; null: the plain <c>role: content</c> one (<see cref="PlainTemplate"/>).</summary>
    public Tessera.Text.CheckpointChatTemplate? ChatTemplate { get; init; }

    /// <summary>How the model writes tool calls (vLLM's --tool-call-parser names); null: the format its chat template teaches.</summary>
    public string? ToolCallParser { get; init; }

    /// <summary>
    /// Further names requests may give the model, beside the one the server reports (vLLM's <c>--served-model-name</c>
    /// after its first): /v1/models lists them after it, responses name the first.
    /// </summary>
    public IReadOnlyList<string> ModelAliases { get; init; } = [];

    /// <summary>
    /// Origins whose browser pages may call the server (CORS): "*" for any, else origins as a browser sends them
    /// (<c>https://app.example.com</c>, <c>http://localhost:3000</c>). Empty (the default): no CORS headers at all.
    /// </summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        foreach (string name in ModelAliases)
            if (string.IsNullOrWhiteSpace(name))
                throw new ArgumentException("--served-model-name takes non-empty names.");
        foreach (string origin in AllowedOrigins)
            if (origin != "*" && !IsOrigin(origin))
                throw new ArgumentException($"--allowed-origins '{origin}' is not an origin: write scheme://host[:port] (e.g. http://localhost:3000), or * for any.");
        if (MaxTokens is < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxTokens), MaxTokens, $"--max-tokens must be at least 1 (got {MaxTokens}).");
        if (RequestTimeout is { } timeout && timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), timeout, $"--request-timeout must be positive (got {timeout.TotalSeconds} s).");
        if (ToolCallParser is { } parser && Tools.ToolCallFormat.Named(parser) is null)
            throw new ArgumentException($"--tool-call-parser '{parser}' is not one of {string.Join(", ", Tools.ToolCallFormat.All.Select(f => f.Name))}.", nameof(ToolCallParser));
    }

    /// <summary>An origin as a browser sends it: http(s), a host, maybe a port, nothing after.</summary>
    private static bool IsOrigin(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
        && uri.GetLeftPart(UriPartial.Authority).Equals(text, StringComparison.OrdinalIgnoreCase);
}
