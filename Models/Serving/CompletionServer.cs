using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// An OpenAI-compatible HTTP server (ASP.NET Core minimal API, Kestrel) in front of one <see cref="ContinuousBatcher"/>:
/// <c>GET /v1/models</c>, <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c> (see
/// <see cref="CompletionEndpoints"/>), and for operations <c>GET /health</c> (200 once the model serves, 503 while it
/// loads or the server stops), <c>GET /metrics</c> (Prometheus text under vLLM's names, <see cref="ServerMetrics"/>) and
/// <c>GET /metrics.json</c> (the batcher's aggregate as JSON). Chat prompts are made by
/// <see cref="ChatPrompts"/> (the checkpoint's chat template, else a plain one). Bound to loopback unless another host is given; CORS only for the origins allowed.
/// <code>
/// await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama", port: 0);
/// Console.WriteLine(server.Address); // http://127.0.0.1:54321/
/// </code>
/// A server can listen before its model exists, answering 503 until it is given one:
/// <code>
/// var server = await CompletionServer.StartLoadingAsync("llama", port: 8000); // GET /health: 503
/// server.Ready(new ContinuousBatcher(LoadModel(), tokenizer), tokenizer);    // GET /health: 200
/// </code>
/// </summary>
public sealed class CompletionServer : IAsyncDisposable
{
    /// <summary>
    /// How long a graceful stop waits for requests in flight: a few seconds, so that SIGTERM ends the process promptly
    /// (what is still running after it is cancelled with the batcher).
    /// </summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    /// <summary>What a client is told to wait before it asks a loading server again.</summary>
    private const int LoadingRetryAfterSeconds = 5;

    private readonly WebApplication _app;
    private readonly string _modelName;
    private readonly ServerOptions _options;
    private CompletionEndpoints? _endpoints;
    private int _disposed;

    private CompletionServer(WebApplication app, string modelName, ServerOptions options)
    {
        _app = app;
        _modelName = modelName;
        _options = options;
    }

    /// <summary>Where the server listens (the real port when 0 was asked for).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>What <c>GET /health</c> answers now.</summary>
    public ServerHealth Health =>
        _app.Lifetime.ApplicationStopping.IsCancellationRequested ? ServerHealth.ShuttingDown
        : Volatile.Read(ref _endpoints) is not { } endpoints ? ServerHealth.Loading
        : endpoints.Batcher.IsAccepting ? ServerHealth.Ready
        : ServerHealth.ShuttingDown;

    /// <summary>Starts listening on <paramref name="host"/>:<paramref name="port"/> (port 0: any free port), serving at once.</summary>
    /// <param name="host">an IP address or "localhost"</param>
    /// <param name="modelName">the id of the one model served (requests naming another, or none of <see cref="ServerOptions.ModelAliases"/>, get a 404)</param>
    /// <param name="options">per-request bounds (max_tokens, timeout), other model names, CORS origins; null: the defaults</param>
    public static async Task<CompletionServer> StartAsync(ContinuousBatcher batcher, ITokenizer tokenizer, string modelName,
        string host = "127.0.0.1", int port = 0, ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var server = await StartLoadingAsync(modelName, host, port, options, cancellationToken);
        server.Ready(batcher, tokenizer);
        return server;
    }

    /// <summary>
    /// Starts listening before the model is there: /health and the API answer 503 ("model_loading", with Retry-After)
    /// until <see cref="Ready"/>, so that a supervisor sees a live process whose model is loading, not a closed port.
    /// </summary>
    /// <inheritdoc cref="StartAsync" path="/param"/>
    public static async Task<CompletionServer> StartLoadingAsync(string modelName, string host = "127.0.0.1", int port = 0,
        ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(modelName)) throw new ArgumentException("--served-model-name takes non-empty names.");
        options ??= new ServerOptions();
        options.Validate();
        var address = host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : throw new ArgumentException($"--host '{host}' is not an IP address (write e.g. 127.0.0.1, 0.0.0.0 or localhost).");
        if (port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, $"--port {port} is not a TCP port (0-65535; 0 picks a free one).");

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = ShutdownTimeout);
        builder.WebHost.UseKestrel(k => k.Listen(address, port));
        if (options.AllowedOrigins.Count > 0) builder.Services.AddCors();
        var app = builder.Build();
        var server = new CompletionServer(app, modelName, options);

        // First, so that every answer to an allowed origin carries its CORS headers, errors included (a browser page
        // reads an error body only so); a preflight is answered here. A disallowed origin gets no CORS header at all.
        if (options.AllowedOrigins.Count > 0) app.UseCors(Cors(options.AllowedOrigins));
        // A fault no endpoint foresaw is still answered in OpenAI's error shape, never as an empty 500.
        app.Use(async (HttpContext http, RequestDelegate next) =>
        {
            try
            {
                await next(http);
            }
            catch (Exception e) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
            {
                await CompletionEndpoints.Error(http, new ApiException(500, $"Internal error: {e.GetType().Name}: {e.Message}", code: "server_error", type: "server_error"))
                    .ExecuteAsync(http);
            }
        });
        // The API and the metrics answer only a model that serves.
        app.Use(async (HttpContext http, RequestDelegate next) =>
        {
            if ((http.Request.Path.StartsWithSegments("/v1") || http.Request.Path.StartsWithSegments("/metrics") || http.Request.Path.StartsWithSegments("/metrics.json"))
                && server.Unavailable() is { } refusal)
                await CompletionEndpoints.Error(http, refusal).ExecuteAsync(http);
            else
                await next(http);
        });

        var endpoints = () => Volatile.Read(ref server._endpoints)!;
        app.MapGet("/health", (HttpContext http) => server.Unavailable() is { } refusal ? CompletionEndpoints.Error(http, refusal) : TypedResults.Ok());
        app.MapGet("/v1/models", () => TypedResults.Json(endpoints().ModelList(), ServingJson.Wire.ModelList));
        app.MapGet("/v1/models/{id}", (HttpContext http, string id) => endpoints().Serves(id)
            ? TypedResults.Json(endpoints().ModelCard(id), ServingJson.Wire.ModelCard)
            : CompletionEndpoints.Error(http, endpoints().ModelNotFound(id)));
        // Typed as Func, not RequestDelegate: a RequestDelegate's Task<IResult> would be awaited and its result dropped.
        app.MapPost("/v1/completions", (Func<HttpContext, Task<IResult>>)(http => endpoints().CompletionsAsync(http)));
        app.MapPost("/v1/chat/completions", (Func<HttpContext, Task<IResult>>)(http => endpoints().ChatCompletionsAsync(http)));
        app.MapGet("/metrics", () => TypedResults.Text(ServerMetrics.Write(endpoints().Batcher.Metrics, modelName), PrometheusText.ContentType));
        app.MapGet("/metrics.json", () => TypedResults.Json(MetricsResponse.Of(endpoints().Batcher.Metrics), ServingJson.Wire.MetricsResponse));
        app.MapFallback((HttpContext http) => CompletionEndpoints.Error(http, new ApiException(404,
            $"No route {http.Request.Method} {http.Request.Path}: try GET /v1/models, POST /v1/completions, POST /v1/chat/completions, GET /health or GET /metrics.", code: "not_found")));

        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            // Kestrel reports a port in use as an IOException, but an address that is not this machine's (EADDRNOTAVAIL)
            // or one it may not bind (EACCES) as the socket's own exception: both are the caller's address.
            await app.DisposeAsync();
            throw new IOException($"cannot listen on --host {host} --port {port}: {e.Message}.", e);
        }
        catch
        {
            await app.DisposeAsync(); // a port in use: nothing of the host stays behind
            throw;
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(bound.Replace("[::]", "localhost") + "/");
        return server;
    }

    /// <summary>Serves the model from now on: /health answers 200 and the API takes requests.</summary>
    /// <exception cref="InvalidOperationException">the server already serves one</exception>
    /// <param name="chatTemplate">the checkpoint's chat template, read with the model (null: the options' own)</param>
    public void Ready(ContinuousBatcher batcher, ITokenizer tokenizer, CheckpointChatTemplate? chatTemplate = null)
    {
        ArgumentNullException.ThrowIfNull(batcher);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var options = chatTemplate is null ? _options : _options with { ChatTemplate = chatTemplate };
        if (Interlocked.CompareExchange(ref _endpoints, new CompletionEndpoints(batcher, tokenizer, _modelName, options), null) is not null)
            throw new InvalidOperationException("The server already serves a model.");
    }

    /// <summary>The 503 a request gets now (the model loads, or the server stops), or null when the model serves.</summary>
    private ApiException? Unavailable() => Health switch
    {
        ServerHealth.Loading => new ApiException(503, $"The model '{_modelName}' is loading: try again shortly (GET /health answers 200 once it serves).",
            code: "model_loading", type: "server_error") { RetryAfterSeconds = LoadingRetryAfterSeconds },
        ServerHealth.ShuttingDown => CompletionEndpoints.ShuttingDown("The server is shutting down and takes no new requests."),
        _ => null,
    };

    /// <summary>
    /// The CORS policy: the origins given ("*": any), GET and POST, any request header (Authorization and Content-Type
    /// are what OpenAI's SDKs send), no credentials (the API key travels in a header, not a cookie); Retry-After and
    /// x-should-retry readable by the page's SDK.
    /// </summary>
    private static Action<CorsPolicyBuilder> Cors(IReadOnlyList<string> origins) => policy =>
    {
        if (origins.Contains("*")) policy.AllowAnyOrigin();
        else policy.WithOrigins([.. origins]);
        policy.WithMethods("GET", "POST").AllowAnyHeader().WithExposedHeaders("Retry-After", "x-should-retry");
    };

    /// <summary>Completes when the host is asked to stop (Ctrl+C, SIGTERM, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Graceful stop: no new connections; requests in flight finish (up to <see cref="ShutdownTimeout"/>).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
