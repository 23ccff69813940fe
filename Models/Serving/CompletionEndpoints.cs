using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Tessera.Generation;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// /v1/completions and /v1/chat/completions: parse and check the request (4xx before anything is queued), submit it to
/// the shared <see cref="ContinuousBatcher"/> (so concurrent requests run in the same steps), and answer with one JSON
/// body or, with <c>"stream": true</c>, server-sent events: one <c>data: {chunk}</c> per token, a chunk with the
/// finish_reason, optionally the usage, then <c>data: [DONE]</c>. A client that disconnects cancels its request.
/// </summary>
internal sealed class CompletionEndpoints(ContinuousBatcher batcher, ITokenizer tokenizer, string modelName, ServerOptions options)
{
    /// <summary>OpenAI's default max_tokens for completions.</summary>
    private const int DefaultCompletionTokens = 16;

    private readonly long _started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public string ModelName => modelName;

    public JsonObject ModelCard() => new() { ["id"] = modelName, ["object"] = "model", ["created"] = _started, ["owned_by"] = "tessera" };

    public JsonObject ModelList() => new() { ["object"] = "list", ["data"] = new JsonArray(ModelCard()) };

    public Task CompletionsAsync(HttpContext http) => HandleAsync(http, chat: false);

    public Task ChatCompletionsAsync(HttpContext http) => HandleAsync(http, chat: true);

    private async Task HandleAsync(HttpContext http, bool chat)
    {
        // The request ends when the client goes away or its time is up, whichever comes first.
        using var requestEnd = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        if (options.RequestTimeout is { } timeout) requestEnd.CancelAfter(timeout);
        var ended = requestEnd.Token;
        GenerationStream request;
        bool stream, includeUsage;
        try
        {
            var body = await RequestFields.ReadBodyAsync(http.Request.Body, ended);
            if (RequestFields.Model(body) is string model && model != modelName)
                throw new ApiException(404, $"The model '{model}' does not exist: this server serves '{modelName}'.", "model", "model_not_found");
            int[] prompt = chat ? tokenizer.Encode(ChatTemplate.Render(RequestFields.Messages(body))) : RequestFields.Prompt(body, text => tokenizer.Encode(text));
            CheckPrompt(prompt, chat ? "messages" : "prompt");
            // Chat without max_tokens runs until a stop, the context or the KV-cache limit; both within the server's cap.
            int cap = Math.Min(options.MaxTokens ?? int.MaxValue, batcher.MaxNewTokens(prompt.Length));
            var sampling = RequestFields.Sampling(body, chat ? cap : Math.Min(cap, DefaultCompletionTokens));
            if (options.MaxTokens is int most && sampling.MaxTokens > most)
                throw new ApiException(400, $"max_tokens is {sampling.MaxTokens}, more than this server allows ({most}).", "max_tokens");
            stream = RequestFields.Stream(body);
            includeUsage = RequestFields.IncludeUsage(body);
            request = Submit(prompt, sampling, ended);
        }
        catch (ApiException e)
        {
            if (e.Status == 429) http.Response.Headers.RetryAfter = "1";
            await WriteJsonAsync(http, e.Status, e.ToJson());
            return;
        }

        var format = new OpenAiFormat($"{(chat ? "chatcmpl" : "cmpl")}-{request.Id}-{Guid.NewGuid():N}"[..32], DateTimeOffset.UtcNow.ToUnixTimeSeconds(), modelName, chat);
        try
        {
            if (stream) await StreamAsync(http, request, format, chat, includeUsage, ended, Failure);
            else await WriteJsonAsync(http, 200, format.Response(await request.Completion));
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; its request was cancelled with it.
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var error = Failure(e, ended);
            await WriteJsonAsync(http, error.Status, error.ToJson());
        }
    }

    /// <summary>How a request that was queued but did not finish is reported.</summary>
    private ApiException Failure(Exception e, CancellationToken deadline) => e switch
    {
        OperationCanceledException when deadline.IsCancellationRequested =>
            new ApiException(408, $"The request did not finish within the server's limit of {options.RequestTimeout?.TotalSeconds:0.###} s.", code: "request_timeout", type: "timeout_error"),
        KvCacheAllocationException => new ApiException(503, e.Message, code: "insufficient_memory", type: "server_error"),
        OperationCanceledException => new ApiException(503, "The server is shutting down: the request was cancelled.", code: "shutting_down", type: "server_error"),
        _ => new ApiException(500, $"Generation failed: {e.Message}", code: "server_error", type: "server_error"),
    };

    private GenerationStream Submit(int[] prompt, SamplingOptions options, CancellationToken aborted)
    {
        try
        {
            return batcher.Submit(prompt, options, aborted);
        }
        catch (QueueFullException e)
        {
            throw new ApiException(429, e.Message, code: "queue_full", type: "rate_limit_error");
        }
        catch (KvCacheLimitException e)
        {
            throw new ApiException(400, e.Message, "max_tokens", "kv_cache_limit_exceeded");
        }
        catch (InvalidOperationException e)
        {
            throw new ApiException(503, e.Message, code: "shutting_down", type: "server_error");
        }
        catch (ArgumentException e)
        {
            throw new ApiException(400, e.Message.Split(" (Parameter")[0].Split(Environment.NewLine)[0]);
        }
    }

    /// <summary>400 for a prompt the model cannot run, before it is queued.</summary>
    private void CheckPrompt(int[] prompt, string param)
    {
        try
        {
            batcher.ValidatePrompt(prompt);
        }
        catch (ContextOverflowException e)
        {
            throw new ApiException(400, $"This model's maximum context length is {e.Capacity} tokens, but the prompt has {prompt.Length} tokens.", param, "context_length_exceeded");
        }
        catch (ArgumentException e)
        {
            throw new ApiException(400, e.Message.Split(" (Parameter")[0].Split(Environment.NewLine)[0], param);
        }
    }

    private static async Task StreamAsync(HttpContext http, GenerationStream request, OpenAiFormat format, bool chat, bool includeUsage,
        CancellationToken deadline, Func<Exception, CancellationToken, ApiException> failure)
    {
        var aborted = http.RequestAborted;
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        await http.Response.StartAsync(aborted);
        if (chat) await WriteEventAsync(http, OpenAiFormat.Serialize(format.RoleChunk()));
        try
        {
            await foreach (var token in request.Tokens(aborted))
                await WriteEventAsync(http, OpenAiFormat.Serialize(format.TokenChunk(token)));
            var output = await request.Completion;
            await WriteEventAsync(http, OpenAiFormat.Serialize(format.FinishChunk(output.FinishReason)));
            if (includeUsage) await WriteEventAsync(http, OpenAiFormat.Serialize(format.UsageChunk(output)));
        }
        catch (Exception e) when (e is not OperationCanceledException || !aborted.IsCancellationRequested)
        {
            // Headers are gone: the error travels as an event, as OpenAI's streams report them.
            await WriteEventAsync(http, OpenAiFormat.Serialize(failure(e, deadline).ToJson()));
        }
        await WriteEventAsync(http, "[DONE]");
    }

    private static async Task WriteEventAsync(HttpContext http, string data)
    {
        await http.Response.WriteAsync($"data: {data}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    internal static async Task WriteJsonAsync(HttpContext http, int status, JsonNode body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(OpenAiFormat.Serialize(body));
    }
}
