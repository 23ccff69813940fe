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
        var command = new Command("serve", "Serve the checkpoint over HTTP with OpenAI's API: GET /v1/models, POST /v1/completions, POST /v1/chat/completions.")
        {
            checkpoint, engine, port, host, maxBatch,
        };
        foreach (var option in plan.All) command.Options.Add(option);
        command.SetAction(r => Program.Run(() =>
            Serve(r.GetValue(checkpoint)!, r.GetValue(engine), plan.Read(r), plan.Device(r), r.GetValue(host)!, r.GetValue(port), r.GetValue(maxBatch))));
        return command;
    }

    private static int Serve(string directory, EngineKind kind, Tessera.Parallelism.ParallelPlan? plan, DeviceKind device, string host, int port, int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), maxBatch, $"--max-batch must be at least 1 (got {maxBatch}).");
        var tokenizer = Tokenizers.Load(directory);
        var model = EngineCatalog.Open(directory, kind, plan, device);
        using var owner = model as IDisposable;
        string name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory)));
        var batcher = new ContinuousBatcher(model, tokenizer, maxBatch);
        try
        {
            var server = CompletionServer.StartAsync(batcher, tokenizer, name, host, port).GetAwaiter().GetResult();
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"serving {name} ({model.Shape.ModelName}, {(plan is null ? "one device" : plan.ToString())}, up to {maxBatch} sequences per step) at {server.Address} — Ctrl+C stops"));
            server.WaitForShutdownAsync().GetAwaiter().GetResult();
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            batcher.ShutdownAsync().GetAwaiter().GetResult();
            Console.Error.WriteLine($"stopped after {batcher.Metrics.Requests} request(s)");
            return 0;
        }
        finally
        {
            batcher.Dispose();
        }
    }
}
