using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Generation;

namespace Tessera.Models.Serving;

/// <summary>
/// Reads the fields that /v1/completions and /v1/chat/completions share, each checked for its JSON type and range so
/// that a bad one is refused with a 400 naming it. Defaults follow OpenAI's: temperature 1, top_p 1, max_tokens 16 for
/// completions (for chat: until a stop or the context is full), stop tokens = the tokenizer's end-of-sequence ids.
/// </summary>
internal static class RequestFields
{
    /// <summary>The request body as a JSON object, or a 400.</summary>
    public static async Task<JsonObject> ReadBodyAsync(Stream body, CancellationToken cancellationToken)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(body, cancellationToken: cancellationToken);
        }
        catch (JsonException e)
        {
            throw new ApiException(400, $"The request body is not valid JSON: {e.Message}", code: "invalid_json");
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            // Kestrel refused the body (past its size limit, a malformed chunk).
            throw new ApiException(e.StatusCode, $"The request body could not be read: {e.Message}", code: "invalid_request");
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Kestrel reports some malformed framing so: a chunk size past any length is "Bad chunk size data".
            throw new ApiException(400, $"The request body could not be read: {e.Message}", code: "invalid_request");
        }
        var root = node as JsonObject ?? throw new ApiException(400, "The request body must be a JSON object.", code: "invalid_json");
        CheckEveryValue(root, depth: 0);
        return root;
    }

    /// <summary>
    /// Reads the whole tree once, so that what JSON nodes defer to first use fails here as a 400: an object with a
    /// repeated key (OpenAI's parser refuses it too; which value wins would be a guess), a string holding a lone
    /// surrogate ("\ud800") or bytes that are not UTF-8.
    /// </summary>
    private static void CheckEveryValue(JsonNode? node, int depth)
    {
        try
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach (var (_, child) in obj) CheckEveryValue(child, depth + 1);
                    break;
                case JsonArray array:
                    foreach (var child in array) CheckEveryValue(child, depth + 1);
                    break;
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    _ = value.GetValue<string>();
                    break;
            }
        }
        catch (ArgumentException e) when (e is not ArgumentNullException)
        {
            throw new ApiException(400, "The request body is not valid JSON: an object repeats a key.", code: "invalid_json");
        }
        catch (InvalidOperationException)
        {
            throw new ApiException(400, "The request body holds a string that is not valid Unicode (a lone surrogate, or bytes that are not UTF-8).", code: "invalid_json");
        }
    }

    /// <summary>The sampling options of the request.</summary>
    /// <param name="defaultMaxTokens">used when max_tokens is absent or null</param>
    public static SamplingOptions Sampling(JsonObject body, int defaultMaxTokens)
    {
        int? maxTokens = Integer(body, "max_tokens") ?? Integer(body, "max_completion_tokens");
        if (maxTokens < 1) throw new ApiException(400, $"max_tokens must be at least 1 (got {maxTokens}).", "max_tokens");
        double temperature = Number(body, "temperature") ?? 1;
        if (temperature < 0) throw new ApiException(400, $"temperature must be >= 0 (got {temperature}).", "temperature");
        double topP = Number(body, "top_p") ?? 1;
        if (!(topP > 0 && topP <= 1)) throw new ApiException(400, $"top_p must be in (0, 1] (got {topP}).", "top_p");
        int topK = Integer(body, "top_k") ?? 0;
        if (topK < -1) throw new ApiException(400, $"top_k must be >= 0, or -1 or 0 for all tokens (got {topK}).", "top_k");
        if (Integer(body, "n") is int n && n != 1) throw new ApiException(400, $"only n = 1 is supported (got {n}).", "n");
        return new SamplingOptions
        {
            MaxTokens = maxTokens ?? defaultMaxTokens,
            Temperature = (float)temperature,
            TopP = (float)topP,
            TopK = Math.Max(topK, 0),
            Seed = Long(body, "seed"),
            StopStrings = Stop(body),
        };
    }

    public static bool Stream(JsonObject body) => Boolean(body, "stream") ?? false;

    /// <summary>stream_options.include_usage: a last chunk with the usage before [DONE].</summary>
    public static bool IncludeUsage(JsonObject body) =>
        body["stream_options"] is JsonObject options && options["include_usage"] is JsonValue value && value.GetValueKind() == JsonValueKind.True;

    /// <summary>The completion prompt: a string (encoded, special tokens added) or an array of token ids.</summary>
    public static int[] Prompt(JsonObject body, Func<string, int[]> encode)
    {
        switch (body["prompt"])
        {
            case null:
                throw new ApiException(400, "'prompt' is required: a string or an array of token ids.", "prompt");
            case JsonValue value when value.TryGetValue(out string? text):
                return encode(text);
            case JsonArray { Count: > 0 } items when items.All(i => i is JsonValue v && v.GetValueKind() == JsonValueKind.Number):
                try
                {
                    return items.Select(i => i!.GetValue<int>()).ToArray();
                }
                catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException)
                {
                    throw new ApiException(400, "'prompt' token ids must be integers.", "prompt");
                }
            case JsonArray { Count: 1 } single when single[0] is JsonValue one && one.TryGetValue(out string? text):
                return encode(text);
            case JsonArray:
                throw new ApiException(400, "'prompt' must be a string, a non-empty array of token ids, or an array of one string (one prompt per request).", "prompt");
            default:
                throw new ApiException(400, "'prompt' must be a string or an array of token ids.", "prompt");
        }
    }

    /// <summary>The messages of a chat request.</summary>
    public static JsonArray Messages(JsonObject body) => body["messages"] switch
    {
        null => throw new ApiException(400, "'messages' is required: an array of {role, content}.", "messages"),
        JsonArray messages => messages,
        _ => throw new ApiException(400, "'messages' must be an array of {role, content}.", "messages"),
    };

    /// <summary>The model named, or null when the request names none.</summary>
    public static string? Model(JsonObject body) => body["model"] switch
    {
        null => null,
        JsonValue value when value.TryGetValue(out string? name) => name,
        _ => throw new ApiException(400, "'model' must be a string.", "model"),
    };

    private static IReadOnlyList<string> Stop(JsonObject body)
    {
        var stops = body["stop"] switch
        {
            null => [],
            JsonValue value when value.TryGetValue(out string? one) => [one],
            JsonArray many when many.All(s => s is JsonValue v && v.GetValueKind() == JsonValueKind.String) => many.Select(s => s!.GetValue<string>()).ToArray(),
            _ => throw new ApiException(400, "'stop' must be a string or an array of strings.", "stop"),
        };
        if (stops.Any(s => s.Length == 0)) throw new ApiException(400, "'stop' strings must not be empty.", "stop");
        return stops;
    }

    private static double? Number(JsonObject body, string name) => body[name] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.Number => value.GetValue<double>(),
        _ => throw new ApiException(400, $"'{name}' must be a number.", name),
    };

    private static long? Long(JsonObject body, string name)
    {
        if (Number(body, name) is not double number) return null;
        if (number != Math.Floor(number) || Math.Abs(number) > 9.2e18) throw new ApiException(400, $"'{name}' must be an integer.", name);
        return (long)number;
    }

    private static int? Integer(JsonObject body, string name)
    {
        if (Long(body, name) is not long number) return null;
        return number is >= int.MinValue and <= int.MaxValue ? (int)number : throw new ApiException(400, $"'{name}' is out of range.", name);
    }

    private static bool? Boolean(JsonObject body, string name) => body[name] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False => value.GetValue<bool>(),
        _ => throw new ApiException(400, $"'{name}' must be true or false.", name),
    };
}
