using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Tessera.Checkpoints;
using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// /v1/completions and /v1/chat/completions: read the typed request and check it (4xx before anything is queued),
/// submit it to the shared <see cref="ContinuousBatcher"/> (so concurrent requests run in the same steps), and answer
/// with one JSON body or, with <c>"stream": true</c>, server-sent events: one chunk per token, a chunk with the
/// finish_reason, optionally the usage, then <c>[DONE]</c>. A client that disconnects cancels its request; one past
/// the server's request timeout is ended.
/// </summary>
internal sealed class CompletionEndpoints(ContinuousBatcher batcher, ITokenizer tokenizer, string modelName, ServerOptions options)
{
    /// <summary>OpenAI's default max_tokens for completions.</summary>
    private const int DefaultCompletionTokens = 16;

    private readonly long _started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public ModelCard ModelCard() => new(modelName, "model", _started, "tessera");

    public ModelList ModelList() => new("list", [ModelCard()]);

    public Task<IResult> CompletionsAsync(HttpContext http) => HandleAsync(http, ServingJson.Default.CompletionRequest,
        request => (request.Prompt!.TokenIds ?? Encode(request.Prompt.Text!, "prompt"), "prompt"));

    public Task<IResult> ChatCompletionsAsync(HttpContext http) => HandleAsync(http, ServingJson.Default.ChatCompletionRequest,
        request => (EncodeChat(request.Messages!), "messages"));

    /// <summary>
    /// The chat prompt's ids: the checkpoint's template rendered and encoded without adding special tokens (the template
    /// writes its own BOS, as transformers tokenizes it), else the plain template encoded as any prompt. A conversation
    /// the template refuses (its raise_exception, or messages it cannot render) is a 400 naming the template's reason.
    /// </summary>
    private int[] EncodeChat(ChatMessage[] messages)
    {
        if (options.ChatTemplate is not { } template) return Encode(ChatTemplate.Render(messages), "messages");
        string prompt;
        try
        {
            prompt = ChatTemplate.Render(messages, template);
        }
        catch (Tessera.Text.Templates.TemplateException e)
        {
            throw new ApiException(400, $"The model's chat template refused the messages: {e.Message}", "messages", "chat_template_error");
        }
        return Encode(prompt, "messages", addSpecialTokens: false);
    }

    /// <summary>
    /// The text's ids. The tokenizer refuses what it cannot do in bounded time (a checkpoint regex that backtracks past
    /// its limit on this text): that request gets a 400 and nobody else notices.
    /// </summary>
    private int[] Encode(string text, string param, bool addSpecialTokens = true)
    {
        try
        {
            return tokenizer.Encode(text, addSpecialTokens);
        }
        catch (CheckpointException e)
        {
            throw new ApiException(400, $"The text could not be tokenized: {e.Message}", param, "tokenization_failed");
        }
    }

    private async Task<IResult> HandleAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> contract,
        Func<T, (int[] Tokens, string Param)> promptOf) where T : GenerationRequest
    {
        bool chat = typeof(T) == typeof(ChatCompletionRequest);
        // The request ends when the client goes away or its time is up, whichever comes first. The source is disposed
        // when the response is written (a stream outlives this method).
        var requestEnd = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        http.Response.RegisterForDispose(requestEnd);
        if (options.RequestTimeout is { } timeout) requestEnd.CancelAfter(timeout);
        var ended = requestEnd.Token;
        GenerationStream generation;
        T request;
        try
        {
            request = await RequestReader.ReadAsync(http.Request.Body, contract, ended);
            if (request.Model is { } model && model != modelName)
                throw new ApiException(404, $"The model '{model}' does not exist: this server serves '{modelName}'.", "model", "model_not_found");
            var (prompt, param) = promptOf(request);
            CheckPrompt(prompt, param);
            // Chat without max_tokens runs until a stop, the context or the KV-cache limit; both within the server's cap.
            int cap = Math.Min(options.MaxTokens ?? int.MaxValue, batcher.MaxNewTokens(prompt.Length));
            var sampling = request.ToSampling(chat ? cap : Math.Min(cap, DefaultCompletionTokens));
            if (options.MaxTokens is int most && sampling.MaxTokens > most)
                throw new ApiException(400, $"max_tokens is {sampling.MaxTokens}, more than this server allows ({most}).", "max_tokens");
            generation = Submit(prompt, sampling, ended);
        }
        catch (ApiException e)
        {
            return Error(http, e);
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            return Error(http, Failure(new OperationCanceledException(), ended));
        }

        var format = new OpenAiFormat($"{(chat ? "chatcmpl" : "cmpl")}-{generation.Id}-{Guid.NewGuid():N}"[..32], DateTimeOffset.UtcNow.ToUnixTimeSeconds(), modelName, chat);
        if (request.Stream == true)
            return TypedResults.ServerSentEvents(Events(generation, format, chat, request.StreamOptions?.IncludeUsage == true, ended, http.RequestAborted));
        try
        {
            return TypedResults.Json(format.Response(await generation.Completion), ServingJson.Wire.CompletionResponse);
        }
        catch (Exception e)
        {
            // A client that went away reads nothing; the others learn why their request ended.
            return Error(http, Failure(e, ended));
        }
    }

    /// <summary>
    /// The stream's events, each a chunk serialized by the contracts (the framework writes the <c>data:</c> framing and
    /// flushes each). Past the headers an error can only travel as an event, as OpenAI's streams report them.
    /// </summary>
    private async IAsyncEnumerable<string> Events(GenerationStream generation, OpenAiFormat format, bool chat, bool includeUsage,
        CancellationToken ended, [EnumeratorCancellation] CancellationToken aborted = default)
    {
        if (chat) yield return Serialize(format.RoleChunk());
        while (true)
        {
            var (token, error) = await NextTokenAsync(generation, ended, aborted);
            if (error is not null)
            {
                yield return JsonSerializer.Serialize(error.ToBody(), ServingJson.Wire.ErrorResponse);
                yield return "[DONE]";
                yield break;
            }
            if (token is null) break;
            yield return Serialize(format.TokenChunk(token));
        }
        var output = await generation.Completion;
        yield return Serialize(format.FinishChunk(output.FinishReason));
        if (includeUsage) yield return Serialize(format.UsageChunk(output));
        yield return "[DONE]";
    }

    /// <summary>The next token; (null, null) at the end; (null, error) when the request failed or timed out.</summary>
    private async Task<(GeneratedToken? Token, ApiException? Error)> NextTokenAsync(GenerationStream generation, CancellationToken ended, CancellationToken aborted)
    {
        try
        {
            while (await generation.Reader.WaitToReadAsync(aborted))
                if (generation.Reader.TryRead(out var token)) return (token, null);
            return (null, null);
        }
        catch (Exception e) when (!aborted.IsCancellationRequested)
        {
            return (null, Failure(e, ended));
        }
    }

    private static string Serialize(CompletionResponse chunk) => JsonSerializer.Serialize(chunk, ServingJson.Wire.CompletionResponse);

    /// <summary>How a request that was queued but did not finish is reported.</summary>
    private ApiException Failure(Exception e, CancellationToken ended) => e switch
    {
        OperationCanceledException when ended.IsCancellationRequested =>
            new ApiException(408, $"The request did not finish within the server's limit of {options.RequestTimeout?.TotalSeconds:0.###} s.", code: "request_timeout", type: "timeout_error"),
        KvCacheAllocationException => new ApiException(503, e.Message, code: "insufficient_memory", type: "server_error"),
        OperationCanceledException => new ApiException(503, "The server is shutting down: the request was cancelled.", code: "shutting_down", type: "server_error"),
        _ => new ApiException(500, $"Generation failed: {e.Message}", code: "server_error", type: "server_error"),
    };

    private GenerationStream Submit(int[] prompt, SamplingOptions sampling, CancellationToken ended)
    {
        try
        {
            return batcher.Submit(prompt, sampling, ended);
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
            throw new ApiException(400, ErrorText.OneLine(e));
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
            throw new ApiException(400, ErrorText.OneLine(e), param);
        }
    }

    /// <summary>An error answer; a 429 tells the client when to retry.</summary>
    public static IResult Error(HttpContext http, ApiException e)
    {
        if (e.Status == 429) http.Response.Headers.RetryAfter = "1";
        return TypedResults.Json(e.ToBody(), ServingJson.Wire.ErrorResponse, statusCode: e.Status);
    }
}
