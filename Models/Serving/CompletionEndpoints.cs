using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Tessera.Checkpoints;
using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Models.Serving.Tools;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// /v1/completions and /v1/chat/completions: read the typed request and check it (4xx before anything is queued),
/// submit it to the shared <see cref="ContinuousBatcher"/> (so concurrent requests run in the same steps), and answer
/// with one JSON body or, with <c>"stream": true</c>, server-sent events: one chunk per token, a chunk with the
/// finish_reason, optionally the usage, then <c>[DONE]</c>. With <c>n</c> (or best_of) the choices are submitted
/// together and share the prompt's prefill; streamed, their chunks interleave, each carrying its choice's index. A
/// client that disconnects cancels its request; one past the server's request timeout is ended.
/// </summary>
internal sealed class CompletionEndpoints(ContinuousBatcher batcher, ITokenizer tokenizer, string modelName, ServerOptions options)
{
    private readonly ChatPrompts _chat = new(options.ChatTemplate, tokenizer, options.ToolCallParser is { } parser ? ToolCallFormat.Named(parser) : null,
        new PromptEncoder(tokenizer, batcher.Engine.Shape.ContextLength));

    /// <summary>How prompt text becomes ids, within what this model's context can use (shared with the chat prompts).</summary>
    private PromptEncoder Encoder => _chat.Encoder;

    /// <summary>OpenAI's default max_tokens for completions.</summary>
    private const int DefaultCompletionTokens = 16;

    private readonly long _started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public ContinuousBatcher Batcher => batcher;

    /// <summary>The model's card under one of its names.</summary>
    public ModelCard ModelCard(string id) => new(id, "model", _started, "tessera");

    /// <summary>Every name the model is served under, the reported one first (as vLLM lists its served names).</summary>
    public ModelList ModelList() => new("list", [ModelCard(modelName), .. options.ModelAliases.Select(ModelCard)]);

    /// <summary>Whether requests may name the model so.</summary>
    public bool Serves(string name) => name == modelName || options.ModelAliases.Contains(name);

    /// <summary>The 404 of a request for a model this server does not serve.</summary>
    public ApiException ModelNotFound(string name) => new(404,
        $"The model '{name}' does not exist: this server serves '{modelName}'{(options.ModelAliases.Count == 0 ? "" : $" (also named {string.Join(", ", options.ModelAliases.Select(a => $"'{a}'"))})")}.",
        "model", "model_not_found");

    public Task<IResult> CompletionsAsync(HttpContext http) => HandleAsync(http, ServingJson.Default.CompletionRequest,
        request => new Prepared(request.Prompt!.TokenIds ?? Encoder.Encode(request.Prompt.Text!, "prompt"), "prompt", ChatPrompts.Constraint(request.ResponseFormat, tokenizer), null));

    public Task<IResult> ChatCompletionsAsync(HttpContext http) => HandleAsync(http, ServingJson.Default.ChatCompletionRequest, request =>
    {
        var chat = _chat.Prepare(request);
        return new Prepared(chat.Tokens, "messages", chat.Constraint, chat);
    });

    /// <summary>A request made ready: its prompt (and the field it came from), the rule its tokens follow, and for chat how its answer is read.</summary>
    private sealed record Prepared(int[] Tokens, string Param, Func<ITokenConstraint>? Constraint, ChatPrompt? Chat);

    private async Task<IResult> HandleAsync<T>(HttpContext http, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> contract,
        Func<T, Prepared> prepare) where T : GenerationRequest
    {
        bool chat = typeof(T) == typeof(ChatCompletionRequest);
        LargeRequestMemory.CollectAfter(http);
        // The request ends when the client goes away or its time is up, whichever comes first. The source is disposed
        // when the response is written (a stream outlives this method).
        var requestEnd = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        http.Response.RegisterForDispose(requestEnd);
        if (options.RequestTimeout is { } timeout) requestEnd.CancelAfter(timeout);
        var ended = requestEnd.Token;
        IReadOnlyList<GenerationStream> generations;
        T request;
        Prepared prepared;
        int[] prompt;
        try
        {
            RequestReader.CheckContentType(http.Request.ContentType);
            // No body of a prompt the context could hold is larger: Kestrel refuses the rest with a 413 as it reads.
            if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
                bodyLimit.MaxRequestBodySize = Encoder.MaxBodyBytes;
            request = await RequestReader.ReadAsync(http.Request.BodyReader, contract, ended);
            if (request.Model is { } model && !Serves(model)) throw ModelNotFound(model);
            prepared = prepare(request);
            prompt = prepared.Tokens;
            CheckPrompt(prompt, prepared.Param);
            // Chat without max_tokens runs until a stop, the context or the KV-cache limit; both within the server's cap.
            int cap = Math.Min(options.MaxTokens ?? int.MaxValue, batcher.MaxNewTokens(prompt.Length));
            var sampling = Sampling(request, chat ? cap : Math.Min(cap, DefaultCompletionTokens)) with { Constraint = prepared.Constraint };
            if (options.MaxTokens is int most && sampling.MaxTokens > most)
                throw new ApiException(400, $"max_tokens is {sampling.MaxTokens}, more than this server allows ({most}).", "max_tokens");
            int context = batcher.Engine.Shape.ContextLength;
            if ((request.MaxTokens ?? request.MaxCompletionTokens) is int asked && (long)prompt.Length + asked > context)
                throw new ApiException(400, $"This model's maximum context length is {context} tokens, but {prompt.Length} prompt tokens and max_tokens {asked} make {(long)prompt.Length + asked}.",
                    request.MaxTokens is null ? "max_completion_tokens" : "max_tokens", "context_length_exceeded");
            generations = Submit(prompt, sampling, (request as CompletionRequest)?.BestOf ?? request.N ?? 1, ended);
        }
        catch (ApiException e)
        {
            return Error(http, e);
        }
        catch (OperationCanceledException) when (ended.IsCancellationRequested)
        {
            return Error(http, Failure(new OperationCanceledException(), ended));
        }

        Func<ChatAnswer>? answers = prepared.Chat is { } chatPrompt ? () => new ChatAnswer(chatPrompt, _chat.Markers, tokenizer) : null;
        var format = new OpenAiFormat($"{(chat ? "chatcmpl" : "cmpl")}-{generations[0].Id}-{Guid.NewGuid():N}"[..32], DateTimeOffset.UtcNow.ToUnixTimeSeconds(), modelName, answers,
            new LogprobsFormat(tokenizer), ShownLogprobs(request), request is CompletionRequest { Echo: true, Prompt: { } echoed } ? echoed.Text ?? tokenizer.Decode(prompt) : null);
        if (request.Stream == true)
            return TypedResults.ServerSentEvents(Events(generations, prompt, format, chat, request.StreamOptions?.IncludeUsage == true, ended, http.RequestAborted));
        try
        {
            var outputs = await Task.WhenAll(generations.Select(g => g.Completion));
            // best_of: the n choices of highest cumulative log-probability, re-indexed; the usage counts every one generated.
            int n = request.N ?? 1;
            var shown = outputs.Length > n ? outputs.OrderByDescending(o => o.CumulativeLogprob).ThenBy(o => o.Choice).Take(n).ToArray() : outputs;
            return TypedResults.Json(format.Response(shown, OpenAiFormat.UsageOf(outputs)), ServingJson.Wire.CompletionResponse);
        }
        catch (Exception e)
        {
            // A client that went away reads nothing; the others learn why their request ended.
            return Error(http, Failure(e, ended));
        }
    }

    /// <summary>
    /// The request's sampling options: its ranges were checked by the reader; here what needs the model (logit_bias ids
    /// in the vocabulary) and what the two APIs name differently (logprobs).
    /// </summary>
    private SamplingOptions Sampling(GenerationRequest request, int defaultMaxTokens)
    {
        var sampling = request.ToSampling(defaultMaxTokens) with { LogitBias = LogitBiasOf(request.LogitBias) };
        return request switch
        {
            ChatCompletionRequest { Logprobs: true } chat => sampling with { Logprobs = chat.TopLogprobs ?? 0 },
            CompletionRequest completion => sampling with
            {
                // best_of ranks its choices by their log-probabilities: computed then even when not shown.
                Logprobs = completion.Logprobs ?? (completion.BestOf > (completion.N ?? 1) ? 0 : null),
                PromptLogprobs = completion.Echo == true ? completion.Logprobs : null,
            },
            _ => sampling,
        };
    }

    /// <summary>The alternatives per token the answer shows: chat's top_logprobs (with logprobs: true), completions' logprobs; null: none.</summary>
    private static int? ShownLogprobs(GenerationRequest request) => request switch
    {
        ChatCompletionRequest { Logprobs: true } chat => chat.TopLogprobs ?? 0,
        CompletionRequest { Logprobs: int count } => count,
        _ => null,
    };

    /// <summary>logit_bias's keys as token ids of this model, its values in [-100, 100]; else a 400 naming logit_bias.</summary>
    private Dictionary<int, float>? LogitBiasOf(Dictionary<string, double>? bias)
    {
        if (bias is null || bias.Count == 0) return null;
        int vocab = batcher.Engine.Shape.VocabSize;
        var ids = new Dictionary<int, float>();
        foreach (var (key, value) in bias)
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id) || id >= vocab)
                throw new ApiException(400, $"'logit_bias' key '{key}' is not a token id of this model (0 to {vocab - 1}).", "logit_bias");
            if (!(value >= -100 && value <= 100))
                throw new ApiException(400, $"'logit_bias' of token {key} is {value}: biases must be in [-100, 100].", "logit_bias");
            ids[id] = (float)value;
        }
        return ids;
    }

    /// <summary>
    /// The stream's events, each a chunk serialized by the contracts (the framework writes the <c>data:</c> framing and
    /// flushes each): per choice, as its tokens come (choices interleaved, each chunk with its index), then its finish
    /// chunk. Past the headers an error can only travel as an event, as OpenAI's streams report them.
    /// </summary>
    private async IAsyncEnumerable<string> Events(IReadOnlyList<GenerationStream> generations, int[] prompt, OpenAiFormat format, bool chat, bool includeUsage,
        CancellationToken ended, [EnumeratorCancellation] CancellationToken aborted = default)
    {
        if (chat)
            for (int c = 0; c < generations.Count; c++) yield return Serialize(format.RoleChunk(c));
        var merged = Merge(generations, aborted);
        var echoed = new bool[generations.Count];
        for (int open = generations.Count; open > 0;)
        {
            var (choice, token, error) = await merged.ReadAsync(aborted);
            if (error is not null)
            {
                yield return JsonSerializer.Serialize(Failure(error, ended).ToBody(), ServingJson.Wire.ErrorResponse);
                yield return "[DONE]";
                yield break;
            }
            var generation = generations[choice];
            if (!chat && format.Echoes && !echoed[choice])
            {
                echoed[choice] = true;
                yield return Serialize(format.EchoChunk(choice, generation.PromptLogprobs, prompt));
            }
            if (token is not null)
            {
                yield return Serialize(format.TokenChunk(choice, token));
                continue;
            }
            foreach (var chunk in format.FinishChunks(choice, (await generation.Completion).FinishReason)) yield return Serialize(chunk);
            open--;
        }
        if (includeUsage) yield return Serialize(format.UsageChunk(OpenAiFormat.UsageOf(await Task.WhenAll(generations.Select(g => g.Completion)))));
        yield return "[DONE]";
    }

    /// <summary>
    /// The tokens of every choice as they come: (choice, token, null) per token, (choice, null, null) when a choice
    /// ends, (choice, null, error) when it failed or timed out.
    /// </summary>
    private static ChannelReader<(int Choice, GeneratedToken? Token, Exception? Error)> Merge(IReadOnlyList<GenerationStream> generations, CancellationToken aborted)
    {
        var merged = Channel.CreateUnbounded<(int, GeneratedToken?, Exception?)>(new UnboundedChannelOptions { SingleReader = true });
        foreach (var generation in generations) _ = Pump(generation);
        return merged.Reader;

        async Task Pump(GenerationStream generation)
        {
            try
            {
                await foreach (var token in generation.Reader.ReadAllAsync(aborted)) merged.Writer.TryWrite((generation.Choice, token, null));
                merged.Writer.TryWrite((generation.Choice, null, null));
            }
            catch (Exception e)
            {
                merged.Writer.TryWrite((generation.Choice, null, e));
            }
        }
    }

    private static string Serialize(CompletionResponse chunk) => JsonSerializer.Serialize(chunk, ServingJson.Wire.CompletionResponse);

    /// <summary>How a request that was queued but did not finish is reported.</summary>
    private ApiException Failure(Exception e, CancellationToken ended) => e switch
    {
        OperationCanceledException when ended.IsCancellationRequested =>
            new ApiException(408, $"The request did not finish within the server's limit of {options.RequestTimeout?.TotalSeconds:0.###} s.", code: "request_timeout", type: "timeout_error")
            {
                ShouldRetry = false,
            },
        KvCacheAllocationException => new ApiException(503, e.Message, code: "insufficient_memory", type: "server_error"),
        NonFiniteLogitsException => new ApiException(422, e.Message, code: "non_finite_logits"),
        OperationCanceledException => ShuttingDown("The server is shutting down: the request was cancelled."),
        _ => new ApiException(500, $"Generation failed: {e.Message}", code: "server_error", type: "server_error"),
    };

    private IReadOnlyList<GenerationStream> Submit(int[] prompt, SamplingOptions sampling, int choices, CancellationToken ended)
    {
        try
        {
            return batcher.SubmitChoices(prompt, sampling, choices, ended);
        }
        catch (QueueFullException e)
        {
            throw new ApiException(429, e.Message, code: "queue_full", type: "rate_limit_error") { RetryAfterSeconds = 1 };
        }
        catch (KvCacheLimitException e)
        {
            throw new ApiException(400, e.Message, "max_tokens", "kv_cache_limit_exceeded");
        }
        catch (InvalidOperationException e)
        {
            throw ShuttingDown(e.Message);
        }
        catch (ArgumentException e)
        {
            // SamplingOptions names the option at fault (e.g. a penalty past float's range): its JSON field.
            string? param = e.ParamName is { } name && name != "options" ? JsonNamingPolicy.SnakeCaseLower.ConvertName(name) : null;
            throw new ApiException(400, ErrorText.OneLine(e), param);
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

    /// <summary>
    /// The 503 of a server that stops: not to be retried by the SDKs (the same server will not take it; a load balancer
    /// in front sends the client's next request elsewhere).
    /// </summary>
    public static ApiException ShuttingDown(string message) =>
        new(503, message, code: "shutting_down", type: "server_error") { ShouldRetry = false };

    /// <summary>An error answer, with Retry-After and x-should-retry where the error sets them.</summary>
    public static IResult Error(HttpContext http, ApiException e)
    {
        if (e.RetryAfterSeconds is int seconds) http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (e.ShouldRetry is bool retry) http.Response.Headers["x-should-retry"] = retry ? "true" : "false";
        return TypedResults.Json(e.ToBody(), ServingJson.Wire.ErrorResponse, statusCode: e.Status);
    }
}
