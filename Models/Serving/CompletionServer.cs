using System.Net;
using Microsoft.AspNetCore.Builder;
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
/// <see cref="CompletionEndpoints"/>), and <c>GET /metrics</c> (the batcher's aggregate metrics, an extension). Chat
/// prompts use the checkpoint's chat template given in <see cref="ServerOptions.ChatTemplate"/>, else the plain template
/// of <see cref="ChatTemplate"/>. Bound to loopback unless another host is given.
/// <code>
/// await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama", port: 0);
/// Console.WriteLine(server.Address); // http://127.0.0.1:54321/
/// </code>
/// </summary>
public sealed class CompletionServer : IAsyncDisposable
{
    /// <summary>
    /// How long a graceful stop waits for requests in flight: a few seconds, so that SIGTERM ends the process promptly
    /// (what is still running after it is cancelled with the batcher).
    /// </summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    private readonly WebApplication _app;

    private CompletionServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where the server listens (the real port when 0 was asked for).</summary>
    public Uri Address { get; }

    /// <summary>Starts listening on <paramref name="host"/>:<paramref name="port"/> (port 0: any free port).</summary>
    /// <param name="host">an IP address or "localhost"</param>
    /// <param name="modelName">the id of the one model served (requests naming another get a 404)</param>
    /// <param name="options">per-request bounds (max_tokens, timeout); null: the defaults</param>
    public static async Task<CompletionServer> StartAsync(ContinuousBatcher batcher, ITokenizer tokenizer, string modelName,
        string host = "127.0.0.1", int port = 0, ServerOptions? options = null, CancellationToken cancellationToken = default)
    {
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
        var app = builder.Build();

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
        var endpoints = new CompletionEndpoints(batcher, tokenizer, modelName, options);
        app.MapGet("/v1/models", () => TypedResults.Json(endpoints.ModelList(), ServingJson.Wire.ModelList));
        app.MapGet("/v1/models/{id}", (HttpContext http, string id) => id == modelName
            ? TypedResults.Json(endpoints.ModelCard(), ServingJson.Wire.ModelCard)
            : CompletionEndpoints.Error(http, new ApiException(404, $"The model '{id}' does not exist: this server serves '{modelName}'.", "model", "model_not_found")));
        // Typed as Func, not RequestDelegate: a RequestDelegate's Task<IResult> would be awaited and its result dropped.
        app.MapPost("/v1/completions", (Func<HttpContext, Task<IResult>>)endpoints.CompletionsAsync);
        app.MapPost("/v1/chat/completions", (Func<HttpContext, Task<IResult>>)endpoints.ChatCompletionsAsync);
        app.MapGet("/metrics", () => TypedResults.Json(MetricsResponse.Of(batcher.Metrics), ServingJson.Wire.MetricsResponse));
        app.MapFallback((HttpContext http) => CompletionEndpoints.Error(http, new ApiException(404,
            $"No route {http.Request.Method} {http.Request.Path}: try GET /v1/models, POST /v1/completions or POST /v1/chat/completions.", code: "not_found")));

        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CompletionServer(app, new Uri(bound.Replace("[::]", "localhost") + "/"));
    }

    /// <summary>Completes when the host is asked to stop (Ctrl+C, SIGTERM, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    /// <summary>Graceful stop: no new connections; requests in flight finish (up to <see cref="ShutdownTimeout"/>).</summary>
    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
