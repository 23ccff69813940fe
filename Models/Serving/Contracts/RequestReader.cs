using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.IO.Pipelines;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// Reads a request body into its typed contract and checks it, so that every fault is one 400 naming its field:
/// JSON that does not parse or does not fit the contract (with the field's path from the deserializer, written as
/// OpenAI writes params: <c>messages.[0].role</c>), then the DataAnnotations ranges of each object. Messages speak of
/// JSON (a body cut short, an array where an object belongs, a field of the wrong type), never of C# types.
/// </summary>
/// <remarks>
/// ASP.NET Core 10's own validation (Microsoft.Extensions.Validation) answers with ProblemDetails, and calling it
/// directly is marked "for evaluation purposes only" (ASP0029); System.ComponentModel.DataAnnotations' Validator runs
/// the same attributes with a stable API, and the answer keeps OpenAI's error shape.
/// </remarks>
internal static class RequestReader
{
    /// <summary>
    /// A 415 unless the body is declared JSON: <c>application/json</c> or <c>application/*+json</c>, in UTF-8 if a
    /// charset is named. A body without a Content-Type is read as JSON, as vLLM's server (FastAPI) reads one. Note that
    /// <c>curl -d</c> without <c>-H 'Content-Type: application/json'</c> declares a form
    /// (<c>application/x-www-form-urlencoded</c>): that gets the 415, which says what to send.
    /// </summary>
    public static void CheckContentType(string? contentType)
    {
        if (string.IsNullOrWhiteSpace(contentType)) return;
        if (MediaTypeHeaderValue.TryParse(contentType, out var media)
            && (media.MediaType?.Equals("application/json", StringComparison.OrdinalIgnoreCase) == true
                || media.MediaType?.StartsWith("application/", StringComparison.OrdinalIgnoreCase) == true && media.MediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
            && (media.CharSet is null || media.CharSet.Trim('"').Replace("-", "", StringComparison.Ordinal).Equals("utf8", StringComparison.OrdinalIgnoreCase)))
            return;
        throw new ApiException(415, $"The request body must be JSON in UTF-8 (Content-Type: application/json), not '{contentType}'.", code: "unsupported_media_type");
    }

    /// <summary>
    /// Reads the whole body (Kestrel bounds its size), then deserializes it: with the bytes at hand a fault can be told
    /// apart as JSON would tell it (a body cut short, a top-level value that is not an object).
    /// </summary>
    public static async Task<T> ReadAsync<T>(PipeReader body, JsonTypeInfo<T> contract, CancellationToken cancellationToken) where T : class
    {
        T? request;
        try
        {
            ReadResult read;
            while (!(read = await body.ReadAsync(cancellationToken)).IsCompleted) body.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            var buffer = read.Buffer;
            try
            {
                byte[]? copy = buffer.IsSingleSegment ? null : buffer.ToArray();
                ReadOnlySpan<byte> bytes = copy ?? buffer.FirstSpan;
                try
                {
                    request = JsonSerializer.Deserialize(bytes, contract);
                }
                catch (JsonException e)
                {
                    throw Invalid(e, contract, bytes);
                }
            }
            finally
            {
                body.AdvanceTo(buffer.End);
            }
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
        if (request is null) throw new ApiException(400, "The request body must be a JSON object, not null.", code: "invalid_json");
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
        if (value is ChatCompletionRequest chat) ChatMessages.Check(chat);
        if (value is GenerationRequest { ResponseFormat: { } format }) format.Check();
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

    /// <summary>
    /// Whether the body stops inside a JSON value (what a client that died mid-write, or a proxy that cut the body,
    /// leaves): read as a stream that may go on, it asks for more instead of failing.
    /// </summary>
    private static bool IsCutShort(ReadOnlySpan<byte> bytes, int maxDepth)
    {
        // A top-level number or literal cannot be told from one that goes on; an object, array or string can.
        if (First(bytes) is not ((byte)'{' or (byte)'[' or (byte)'"')) return false;
        var reader = new Utf8JsonReader(bytes, isFinalBlock: false, new JsonReaderState(new JsonReaderOptions { MaxDepth = maxDepth }));
        try
        {
            while (reader.Read())
                if (reader.CurrentDepth == 0 && reader.TokenType is JsonTokenType.EndObject or JsonTokenType.EndArray or JsonTokenType.String)
                    return false; // a whole top-level value
            return true; // the reader asks for more
        }
        catch (JsonException)
        {
            return false; // not JSON before its end
        }
    }

    /// <summary>The body's first byte that is not white space, or null for a body of white space only.</summary>
    private static byte? First(ReadOnlySpan<byte> bytes)
    {
        var rest = bytes.TrimStart(" \t\r\n"u8);
        return rest.IsEmpty ? null : rest[0];
    }

    /// <summary>A body the contract cannot hold: which field, and why, in the words of JSON (never a C# type name).</summary>
    private static ApiException Invalid(JsonException e, JsonTypeInfo contract, ReadOnlySpan<byte> body)
    {
        byte? first = First(body);
        string? param = Param(e.Path);
        string message = e.Message;
        bool converting = message.Contains("could not be converted", StringComparison.Ordinal);
        string? reason = e.InnerException is InvalidOperationException or ArgumentException && e.InnerException.Message.Contains("UTF", StringComparison.OrdinalIgnoreCase)
                         || message.Contains("UTF", StringComparison.OrdinalIgnoreCase)
            ? "a string that is not valid Unicode (a lone surrogate, or bytes that are not UTF-8)"
            : message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase) ? "an object repeats a key"
            : message.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase) ? $"nested too deeply (more than {contract.Options.MaxDepth} levels)"
            : message.Contains("does not contain any JSON tokens", StringComparison.Ordinal) ? "the body is empty (send a JSON object)"
            : IsCutShort(body, contract.Options.MaxDepth)
                ? "unexpected end of the JSON body (an object, array or string is not closed: was the body cut short?)"
            : null;
        if (reason is not null)
            return new ApiException(400, $"The request body is not valid JSON: {reason}.", code: "invalid_json");
        if (param is null)
            return new ApiException(400, converting && Kind(first) is { } kind
                ? $"The request body must be a JSON object, not {kind}: expected a JSON object such as {{\"prompt\": \"Hello\"}}."
                : $"The request body is not valid JSON: {(converting ? "expected a JSON object" : FirstSentence(message))}.", code: "invalid_json");
        string expected = Expected(contract, e.Path!) ?? (converting ? "a value of another type" : FirstSentence(message));
        return new ApiException(400, $"'{param}' must be {expected}.", param);
    }

    /// <summary>What a top-level JSON value that starts with this byte is, in words; null for an object or no value.</summary>
    private static string? Kind(byte? first) => first switch
    {
        (byte)'[' => "an array",
        (byte)'"' => "a string",
        (byte)'t' or (byte)'f' => "true or false",
        (byte)'-' or (>= (byte)'0' and <= (byte)'9') => "a number",
        _ => null,
    };

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
