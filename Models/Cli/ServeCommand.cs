using System.CommandLine;
using System.Globalization;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Mpi;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera serve</c>: an OpenAI-compatible server (<see cref="CompletionServer"/>) for one checkpoint, all requests
/// batched together by one <see cref="ContinuousBatcher"/>. It listens first and loads the model behind it (GET /health
/// and the API answer 503 until the model is loaded and warm), so a supervisor can tell a loading server from a dead
/// one; a load that fails ends the process with one <c>error:</c> line. Ctrl+C (or SIGTERM) stops it gracefully: no new
/// connections, requests in flight finish, then the engine is released.
/// </summary>
internal static class ServeCommand
{
    public static Command Create(Option<string> checkpoint, Option<EngineKind> engine, PlanOptions plan)
    {
        var port = new Option<int>("--port") { Description = "TCP port (0: any free port)", DefaultValueFactory = _ => 8000 };
        var host = new Option<string>("--host") { Description = "Address to bind (default loopback only; 0.0.0.0 for every interface)", DefaultValueFactory = _ => "127.0.0.1" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Most sequences generated together (continuous batching)", DefaultValueFactory = _ => ContinuousBatcher.DefaultMaxInFlight };
        var maxQueue = new Option<int>("--max-queue") { Description = "Most requests waiting for a slot; more are refused with 429", DefaultValueFactory = _ => BatcherLimits.DefaultMaxQueued };
        var kvMemory = new Option<long?>("--kv-cache-mib") { Description = "Most KV-cache memory the sequences in flight hold together, in MiB (default: no limit); requests wait for room, or get 400 if they could never fit" };
        var prefillChunk = new Option<int>("--prefill-chunk") { Description = "Most prompt tokens prefilled per step: long prompts run in chunks between other requests' decode steps", DefaultValueFactory = _ => BatcherLimits.DefaultPrefillChunkTokens };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "Most tokens one request may ask for (default: up to the context)" };
        var timeout = new Option<double>("--request-timeout") { Description = "Seconds a request may run before it is ended with 408 (0: no limit)", DefaultValueFactory = _ => ServerOptions.DefaultRequestTimeout.TotalSeconds };
        var names = new Option<string[]>("--served-model-name")
        {
            Description = "The model's name(s) in the API: /v1/models reports the first (default: the checkpoint folder's name); requests may name any",
            AllowMultipleArgumentsPerToken = true,
        };
        var origins = new Option<string[]>("--allowed-origins")
        {
            Description = "Origins whose browser pages may call the server (CORS), comma-separated or repeated; * for any (default: none)",
            AllowMultipleArgumentsPerToken = true,
        };
        var toolParser = new Option<string?>("--tool-call-parser") { Description = "How the model writes tool calls: hermes, llama3_json or mistral (default: the format its chat template teaches; hermes without one)" };
        var command = new Command("serve", "Serve the checkpoint over HTTP with OpenAI's API: GET /v1/models, POST /v1/completions, POST /v1/chat/completions; GET /health and GET /metrics (Prometheus) for operations.")
        {
            checkpoint, engine, port, host, maxBatch, maxQueue, kvMemory, prefillChunk, maxTokens, timeout, names, origins, toolParser,
        };
        foreach (var option in plan.All) command.Options.Add(option);
        command.SetAction(r => Program.Run(() =>
        {
            var limits = new BatcherLimits
            {
                MaxInFlight = Check(r.GetValue(maxBatch), 1, "--max-batch"),
                MaxQueued = Check(r.GetValue(maxQueue), 0, "--max-queue"),
                KvCacheBytes = r.GetValue(kvMemory) is long mib ? Check(mib, 1, "--kv-cache-mib", most: 1L << 40) * 1024 * 1024 : null,
                PrefillChunkTokens = Check(r.GetValue(prefillChunk), 1, "--prefill-chunk"),
            };
            double seconds = r.GetValue(timeout);
            if (!double.IsFinite(seconds) || seconds < 0 || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
                throw new ArgumentOutOfRangeException(nameof(timeout), seconds, $"--request-timeout must be a number of seconds >= 0 (got {seconds}).");
            string directory = r.GetValue(checkpoint)!;
            string[] served = r.GetValue(names) ?? [];
            var options = new ServerOptions
            {
                MaxTokens = r.GetValue(maxTokens) is int most ? Check(most, 1, "--max-tokens") : null,
                RequestTimeout = seconds == 0 ? null : TimeSpan.FromSeconds(seconds),
                ModelAliases = served.Skip(1).ToArray(),
                ToolCallParser = r.GetValue(toolParser),
                AllowedOrigins = (r.GetValue(origins) ?? []).SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
            };
            string name = served.Length > 0 ? served[0] : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
            return Serve(directory, name, r.GetValue(engine), plan.Read(r), plan.Device(r), r.GetValue(host)!, r.GetValue(port), limits, options);
        }));
        return command;
    }

    private static int Check(int value, int least, string option) => (int)Check(value, least, option, int.MaxValue);

    private static long Check(long value, long least, string option, long most) => value >= least && value <= most ? value
        : throw new ArgumentOutOfRangeException(option, value, $"{option} must be {(value < least ? $"at least {least}" : $"at most {most}")} (got {value}).");

    private static int Serve(string directory, string name, EngineKind kind, Tessera.Parallelism.ParallelPlan? plan, DeviceKind device, string host, int port,
        BatcherLimits limits, ServerOptions options)
    {
        // Under mpirun only rank 0 serves; the others follow its forwards inside EngineCatalog.Open, which never returns there.
        if (MpiWorld.IsLaunched && MpiWorld.LaunchedRank != 0)
        {
            Load(directory, kind, plan, device, limits);
            return 0;
        }
        // Listening first: a port in use or a bad --host fails before minutes of loading, and while the model loads the
        // server answers 503 "model_loading" (GET /health included) instead of refusing connections.
        var server = CompletionServer.StartLoadingAsync(name, host, port, options).GetAwaiter().GetResult();
        ContinuousBatcher? batcher = null;
        IDisposable? owner = null;
        try
        {
            Console.Error.WriteLine($"listening at {server.Address}; loading {name} (GET /health answers 503 until it serves)");
            var stopped = server.WaitForShutdownAsync();
            // Off this thread, so that Ctrl+C during a long load stops the process; under mpirun on this one, as MPI was started here.
            var loading = MpiWorld.IsLaunched ? Task.FromResult(Load(directory, kind, plan, device, limits)) : Task.Run(() => Load(directory, kind, plan, device, limits));
            if (Task.WaitAny(loading, stopped) == 1 && !loading.IsCompleted)
            {
                // The load runs on; the process ends with this method, and the engine with it.
                Console.Error.WriteLine("stopped while loading");
                return 0;
            }
            var (tokenizer, template, model, warmCache) = loading.GetAwaiter().GetResult(); // a failed load throws here: one error line, exit 1
            owner = model as IDisposable;
            batcher = new ContinuousBatcher(model, tokenizer, limits);
            batcher.AddCache(warmCache);
            server.Ready(batcher, tokenizer, template);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"serving {name} ({model.Shape.ModelName}, {(plan is null ? "one device" : plan.ToString())}, up to {limits.MaxInFlight} sequences per step) at {server.Address} — Ctrl+C stops"));
            stopped.GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            // The host gave requests in flight their few seconds; what is left has no client to answer.
            batcher.Dispose();
            Console.Error.WriteLine($"stopped after {batcher.Metrics.Requests} request(s)");
            return 0;
        }
        finally
        {
            batcher?.Dispose();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            owner?.Dispose();
        }
    }

    /// <summary>
    /// The tokenizer and the engine, warmed up on a typical prompt (128 tokens) so that the first request finds the
    /// buffers a prompt needs already resident and runs on the warm-up's cache, resident for a whole prefill chunk.
    /// </summary>
    private static (ITokenizer Tokenizer, CheckpointChatTemplate? Template, ITransformerEngine Model, KvCache WarmCache) Load(string directory, EngineKind kind,
        Tessera.Parallelism.ParallelPlan? plan, DeviceKind device, BatcherLimits limits)
    {
        var tokenizer = Tokenizers.Load(directory);
        var template = CheckpointChatTemplate.Load(directory);
        var model = EngineCatalog.Open(directory, kind, plan, device);
        try
        {
            var warmCache = EngineCatalog.WarmUp(model, limits.PrefillChunkTokens, promptRows: Math.Min(EngineCatalog.MaxWarmUpPromptRows, limits.PrefillChunkTokens));
            return (tokenizer, template, model, warmCache);
        }
        catch
        {
            (model as IDisposable)?.Dispose();
            throw;
        }
    }
}
