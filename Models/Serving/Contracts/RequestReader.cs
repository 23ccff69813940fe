using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// Reads a request body into its typed contract and checks it, so that every fault is one 400 naming its field:
/// JSON that does not parse or does not fit the contract (with the field's path from the deserializer, written as
/// OpenAI writes params: <c>messages.[0].role</c>), then the DataAnnotations ranges of each object.
/// </summary>
/// <remarks>
/// ASP.NET Core 10's own validation (Microsoft.Extensions.Validation) answers with ProblemDetails, and calling it
/// directly is marked "for evaluation purposes only" (ASP0029); System.ComponentModel.DataAnnotations' Validator runs
/// the same attributes with a stable API, and the answer keeps OpenAI's error shape.
/// </remarks>
internal static class RequestReader
{
    public static async Task<T> ReadAsync<T>(Stream body, JsonTypeInfo<T> contract, CancellationToken cancellationToken) where T : class
    {
        T? request;
        try
        {
            request = await JsonSerializer.DeserializeAsync(body, contract, cancellationToken);
        }
        catch (JsonException e)
        {
            throw Invalid(e, contract);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel refused the body (past its size limit, a malformed chunk).
            throw new ApiException(e.StatusCode, $"The request body could not be read: {e.Message}", code: "invalid_request");
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Kestrel reports some malformed framing so: a chunk size past any length is "Bad chunk size data".
            throw new ApiException(400, $"The request body could not be read: {e.Message}", code: "invalid_request");
        }
        if (request is null) throw new ApiException(400, "The request body must be a JSON object.", code: "invalid_json");
        Validate(request, "");
        return request;
    }

    /// <summary>The DataAnnotations of the object and of the objects it holds (chat messages).</summary>
    private static void Validate(object value, string path)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            var first = results[0];
            string member = first.MemberNames.FirstOrDefault() ?? "";
            string param = path + JsonNamingPolicy.SnakeCaseLower.ConvertName(member);
            throw new ApiException(400, Describe(param, first.ErrorMessage), param);
        }
        if (value is ChatCompletionRequest { Messages: { } messages })
            for (int i = 0; i < messages.Length; i++)
                if (messages[i] is null) throw new ApiException(400, $"messages[{i}] must be an object with 'role' and 'content'.", $"messages.[{i}]");
                else Validate(messages[i], $"messages.[{i}].");
        if (value is GenerationRequest { Stop.Values: { } stops } && stops.Any(s => s.Length == 0))
            throw new ApiException(400, "'stop' strings must not be empty.", "stop");
        if (value is GenerationRequest { Stop.Values.Length: > GenerationRequest.MaxStopStrings })
            throw new ApiException(400, $"'stop' may hold at most {GenerationRequest.MaxStopStrings} strings.", "stop");
        if (value is ChatCompletionRequest { TopLogprobs: not null, Logprobs: not true })
            throw new ApiException(400, "'top_logprobs' needs 'logprobs': true.", "top_logprobs");
        if (value is CompletionRequest { BestOf: int bestOf } completion)
        {
            if (bestOf < (completion.N ?? 1)) throw new ApiException(400, $"'best_of' ({bestOf}) must be at least 'n' ({completion.N}).", "best_of");
            if (bestOf > (completion.N ?? 1) && completion.Stream == true)
                throw new ApiException(400, "'best_of' greater than 'n' cannot be streamed: the best choices are known only at the end.", "best_of");
        }
        if (value is GenerationRequest generation) UnsupportedFields.Check(generation);
    }

    /// <summary>Each attribute carries its message in the JSON field's words; a nested field's is prefixed with its path.</summary>
    private static string Describe(string param, string? message) =>
        message is null ? $"'{param}' is not valid." : message.StartsWith('\'') ? message : $"'{param}': {message}";

    /// <summary>A body the contract cannot hold: which field, and why, without the deserializer's type names.</summary>
    private static ApiException Invalid(JsonException e, JsonTypeInfo contract)
    {
        string? param = Param(e.Path);
        string reason = e.InnerException is InvalidOperationException or ArgumentException && e.InnerException.Message.Contains("UTF", StringComparison.OrdinalIgnoreCase)
                        || e.Message.Contains("UTF", StringComparison.OrdinalIgnoreCase)
            ? "a string that is not valid Unicode (a lone surrogate, or bytes that are not UTF-8)"
            : e.Message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) ? "an object repeats a key"
            : e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase) ? "nested too deeply"
            : null!;
        if (reason is not null || param is null)
            return new ApiException(400, $"The request body is not valid JSON: {reason ?? FirstSentence(e.Message)}.", code: "invalid_json");
        string expected = Expected(contract, e.Path!) ?? FirstSentence(e.Message);
        return new ApiException(400, $"'{param}' must be {expected}.", param);
    }

    /// <summary>"$.messages[0].role" → "messages.[0].role"; null for the body itself.</summary>
    private static string? Param(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$") return null;
        return path.TrimStart('$').TrimStart('.').Replace("[", ".[", StringComparison.Ordinal).TrimStart('.');
    }

    /// <summary>What the field at a path holds, in words, read from the contract's own metadata.</summary>
    private static string? Expected(JsonTypeInfo contract, string path)
    {
        var type = contract.Type;
        JsonTypeInfo? info = contract;
        foreach (var segment in path.TrimStart('$').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            string name = segment.Split('[')[0];
            var property = info?.Properties.FirstOrDefault(p => p.Name == name);
            if (property is null) return null;
            type = property.PropertyType;
            for (int brackets = segment.Count(c => c == '['); brackets > 0 && type.IsArray; brackets--) type = type.GetElementType()!;
            info = info!.Options.TryGetTypeInfo(type, out var next) ? next : null;
        }
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type switch
        {
            _ when type == typeof(int) => "an integer",
            _ when type == typeof(long) => "an integer",
            _ when type == typeof(double) => "a number",
            _ when type == typeof(bool) => "true or false",
            _ when type == typeof(string) => "a string",
            _ when type == typeof(PromptInput) => "a string, a non-empty array of token ids, or an array of one string (one prompt per request)",
            _ when type == typeof(StopStrings) => "a string or an array of strings",
            _ when type == typeof(MessageContent) => "a string or an array of text parts ({\"type\": \"text\", \"text\": ...})",
            _ when type.IsArray => "an array",
            _ => "an object",
        };
    }

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).TrimEnd('.');
    }
}
