using System.Text.Json;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// The request fields OpenAI defines (chat or legacy completions) that Tessera does not implement: a request that sets
/// one gets a 400 naming it, never an answer that silently ignores it. A field set to null (or to the value that means
/// "off") is accepted. Fields OpenAI does not define are ignored, as OpenAI-compatible servers do with extensions.
/// </summary>
/// <remarks>
/// Accepted without effect, as they do not change the output: <c>user</c>, <c>safety_identifier</c> (end-user ids for the
/// operator's monitoring) and <c>prompt_cache_key</c> (a cache-routing hint). <c>tools</c>, <c>tool_choice</c>,
/// <c>parallel_tool_calls</c> and <c>response_format</c> are not listed here: they are implemented elsewhere.
/// </remarks>
internal static class UnsupportedFields
{
    /// <summary>Field → why it is refused, and the values that are accepted (null: only JSON null).</summary>
    private static readonly Dictionary<string, (string Reason, Func<JsonElement, bool>? Accepted)> Refused = new()
    {
        ["audio"] = ("audio output is not supported", null),
        ["modalities"] = ("only text output is supported", e => e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(m => m.ValueKind == JsonValueKind.String && m.GetString() == "text")),
        ["prediction"] = ("predicted outputs are not supported", null),
        ["web_search_options"] = ("web search is not supported", null),
        ["functions"] = ("the legacy 'functions' are not supported (use 'tools')", null),
        ["function_call"] = ("the legacy 'function_call' is not supported (use 'tool_choice')", null),
        ["service_tier"] = ("only the 'auto' and 'default' service tiers exist here", e => e.ValueKind == JsonValueKind.String && e.GetString() is "auto" or "default"),
        ["store"] = ("stored completions are not supported", e => e.ValueKind == JsonValueKind.False),
        ["metadata"] = ("metadata is only for stored completions, which are not supported", e => e.ValueKind == JsonValueKind.Object && !e.EnumerateObject().Any()),
        ["reasoning_effort"] = ("this model has no reasoning effort to set", null),
        ["verbosity"] = ("this model has no verbosity to set", null),
    };

    /// <summary>Throws a 400 for the first field OpenAI defines that the request sets and Tessera does not implement.</summary>
    public static void Check(GenerationRequest request)
    {
        foreach (var (name, value) in request.OtherFields ?? [])
        {
            if (value.ValueKind == JsonValueKind.Null || !Refused.TryGetValue(name, out var refused)) continue;
            if (refused.Accepted?.Invoke(value) == true) continue;
            throw new ApiException(400, $"'{name}' is not supported by this server: {refused.Reason}.", name, "unsupported_parameter");
        }
        if (request is CompletionRequest { Suffix: { Length: > 0 } })
            throw new ApiException(400, "'suffix' is not supported by this server: insertion after the completion needs a model trained for it.", "suffix", "unsupported_parameter");
    }
}
