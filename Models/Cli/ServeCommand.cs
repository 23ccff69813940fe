using System.CommandLine;
using System.Globalization;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera serve</c>: an OpenAI-compatible server (<see cref="CompletionServer"/>) for one checkpoint, all requests
/// batched together by one <see cref="ContinuousBatcher"/>. Ctrl+C (or SIGTERM) stops it gracefully: no new
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
        var command = new Command("serve", "Serve the checkpoint over HTTP with OpenAI's API: GET /v1/models, POST /v1/completions, POST /v1/chat/completions.")
        {
            checkpoint, engine, port, host, maxBatch, maxQueue, kvMemory, prefillChunk, maxTokens, timeout,
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
            var options = new ServerOptions
            {
                MaxTokens = r.GetValue(maxTokens) is int most ? Check(most, 1, "--max-tokens") : null,
                RequestTimeout = seconds == 0 ? null : TimeSpan.FromSeconds(seconds),
            };
            return Serve(r.GetValue(checkpoint)!, r.GetValue(engine), plan.Read(r), plan.Device(r), r.GetValue(host)!, r.GetValue(port), limits, options);
        }));
        return command;
    }

    private static int Check(int value, int least, string option) => (int)Check(value, least, option, int.MaxValue);

    private static long Check(long value, long least, string option, long most) => value >= least && value <= most ? value
        : throw new ArgumentOutOfRangeException(option, value, $"{option} must be {(value < least ? $"at least {least}" : $"at most {most}")} (got {value}).");

    private static int Serve(string directory, EngineKind kind, Tessera.Parallelism.ParallelPlan? plan, DeviceKind device, string host, int port,
        BatcherLimits limits, ServerOptions options)
    {
        var tokenizer = Tokenizers.Load(directory);
        // Chat prompts as the checkpoint was trained on them, when it carries a chat template (read before the engine: a bad one fails fast).
        options = options with { ChatTemplate = CheckpointChatTemplate.Load(directory) };
        var model = EngineCatalog.Open(directory, kind, plan, device);
        using var owner = model as IDisposable;
        // A server warms up on a typical prompt (128 tokens) before it listens, so that its first request finds the buffers
        // a prompt needs already resident, and runs on the warm-up's cache, resident for a whole prefill chunk.
        var warmCache = EngineCatalog.WarmUp(model, limits.PrefillChunkTokens, promptRows: Math.Min(EngineCatalog.MaxWarmUpPromptRows, limits.PrefillChunkTokens));
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        var batcher = new ContinuousBatcher(model, tokenizer, limits);
        batcher.AddCache(warmCache);
        try
        {
            var server = CompletionServer.StartAsync(batcher, tokenizer, name, host, port, options).GetAwaiter().GetResult();
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"serving {name} ({model.Shape.ModelName}, {(plan is null ? "one device" : plan.ToString())}, up to {limits.MaxInFlight} sequences per step) at {server.Address} — Ctrl+C stops"));
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            // The host gave requests in flight their few seconds; what is left has no client to answer.
            batcher.Dispose();
            Console.Error.WriteLine($"stopped after {batcher.Metrics.Requests} request(s)");
            return 0;
        }
        finally
        {
            batcher.Dispose();
        }
    }
}
