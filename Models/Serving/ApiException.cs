using Tessera.Models.Serving.Contracts;

namespace Tessera.Models.Serving;

/// <summary>
/// A request the server refuses, as OpenAI reports it: an HTTP status and
/// <c>{"error": {"message", "type", "param", "code"}}</c>.
/// </summary>
/// <param name="status">400 for a bad request, 404 for an unknown model or route, 408/429/503 for limits</param>
/// <param name="param">the request field at fault, or null</param>
/// <param name="code">a machine-readable code (e.g. "context_length_exceeded", "model_not_found"), or null</param>
internal sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public string Type { get; } = type;

    /// <summary>
    /// What the answer tells OpenAI's SDKs through <c>x-should-retry</c>: false for an answer a retry would only repeat
    /// at full cost (a request past the server's time limit, a server shutting down); null: no header, so the SDKs'
    /// default holds (retry 408, 409, 429 and 5xx).
    /// </summary>
    public bool? ShouldRetry { get; init; }

    /// <summary>Seconds to send as Retry-After (a full queue, a model still loading), or null.</summary>
    public int? RetryAfterSeconds { get; init; }

    public ErrorResponse ToBody() => new(new ErrorDetail(Message, Type, Param, Code));
}
