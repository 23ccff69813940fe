using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Tessera.Generation;
using Tessera.Parallelism;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera generate</c>: with <c>--prompt "text"</c>, streams the continuation as text while it is generated (the
/// checkpoint's tokenizer, sampling flags, <c>--stop</c>), then a summary line on stderr; with <c>--tokens 1,2,3</c>,
/// greedy decoding of token ids that prints the generated ids, comma-separated, on one line.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(Option<string> checkpoint, Option<EngineKind> engine, PlanOptions plan)
    {
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text: streams the generated text (uses the checkpoint's tokenizer)" };
        var tokens = new Option<string?>("--tokens", "-t") { Description = "Prompt token ids, comma-separated: 1,2,3 (greedy; prints the generated ids)" };
        var maxNew = new Option<int>("--max-new-tokens", "-n") { Description = "How many tokens to generate", DefaultValueFactory = _ => 16 };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature; 0 (the default) is greedy" };
        var topK = new Option<int?>("--top-k") { Description = "Sample among the K most likely tokens (0: all)" };
        var topP = new Option<float?>("--top-p") { Description = "Sample among the most likely tokens that make up probability P (1: all)" };
        var seed = new Option<long?>("--seed") { Description = "Seed of the random draws (default: a fresh one each run)" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (not printed); repeat for several" };
        var command = new Command("generate", "Continue a prompt: --prompt streams text (sampling flags apply), --tokens prints greedy token ids and tokens/s.")
        {
            checkpoint, prompt, tokens, engine, maxNew, temperature, topK, topP, seed, stop,
        };
        foreach (var option in plan.All) command.Options.Add(option);
        command.SetAction(r => Program.Run(() =>
        {
            string? text = r.GetValue(prompt), ids = r.GetValue(tokens);
            bool sampling = r.GetValue(temperature) is not null || r.GetValue(topK) is not null || r.GetValue(topP) is not null || r.GetValue(seed) is not null
                            || r.GetValue(stop) is { Length: > 0 };
            if (text is not null && ids is not null) throw new ArgumentException("--prompt and --tokens are mutually exclusive: give the prompt as text or as token ids, not both.");
            if (text is null && ids is null) throw new ArgumentException("give a prompt: --prompt \"text\" or --tokens 1,2,3.");
            if (ids is not null)
            {
                if (sampling) throw new ArgumentException("--temperature, --top-k, --top-p, --seed and --stop apply to --prompt; --tokens is greedy.");
                return GenerateIds(r.GetValue(checkpoint)!, ids, r.GetValue(engine), plan.Read(r), plan.Device(r), r.GetValue(maxNew));
            }
            var options = new SamplingOptions
            {
                Temperature = r.GetValue(temperature) ?? 0,
                TopK = r.GetValue(topK) ?? 0,
                TopP = r.GetValue(topP) ?? 1,
                Seed = r.GetValue(seed),
                MaxTokens = r.GetValue(maxNew),
                StopStrings = r.GetValue(stop) ?? [],
            };
            return GenerateText(r.GetValue(checkpoint)!, text!, r.GetValue(engine), plan.Read(r), plan.Device(r), options);
        }));
        return command;
    }

    /// <summary>The --tokens mode: greedy ids, printed on one line when done; timings on stderr.</summary>
    private static int GenerateIds(string directory, string tokenText, EngineKind kind, ParallelPlan? plan, DeviceKind device, int maxNewTokens)
    {
        int[] ids = TokenList.Parse(tokenText);
        var load = Stopwatch.StartNew();
        var model = EngineCatalog.Open(directory, kind, plan, device);
        using var owner = model as IDisposable;
        var cache = EngineCatalog.WarmUp(model, (int)Math.Min((long)ids.Length + maxNewTokens, model.Shape.ContextLength), EngineCatalog.WarmUpPromptRowsFor(ids.Length));
        Console.Error.WriteLine(Loaded(model, kind, plan, load.Elapsed));
        var result = GreedyDecoder.Generate(model, ids, maxNewTokens, cache: cache);
        Console.WriteLine(string.Join(",", result.Tokens));
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"prefill: {result.PromptTokens} tokens in {result.PrefillSeconds * 1e3:F1} ms ({result.PrefillTokensPerSecond:F1} tokens/s); decode: {result.Tokens.Length} tokens, {result.DecodeTokensPerSecond:F1} tokens/s"));
        return 0;
    }

    /// <summary>The --prompt mode: text streamed to stdout as it is decoded (whole characters only), a summary on stderr.</summary>
    private static int GenerateText(string directory, string prompt, EngineKind kind, ParallelPlan? plan, DeviceKind device, SamplingOptions options)
    {
        if (options.MaxTokens < 1) throw new ArgumentOutOfRangeException(nameof(options), options.MaxTokens, $"max new tokens must be at least 1 (got {options.MaxTokens}).");
        options.Validate();
        var tokenizer = Tokenizers.Load(directory);
        int[] ids = tokenizer.Encode(prompt);
        var load = Stopwatch.StartNew();
        var model = EngineCatalog.Open(directory, kind, plan, device);
        using var owner = model as IDisposable;
        var cache = EngineCatalog.WarmUp(model, (int)Math.Min((long)ids.Length + options.MaxTokens, model.Shape.ContextLength), EngineCatalog.WarmUpPromptRowsFor(ids.Length));
        Console.Error.WriteLine(Loaded(model, kind, plan, load.Elapsed));

        using var batcher = new ContinuousBatcher(model, tokenizer, maxInFlight: 1);
        batcher.AddCache(cache);
        batcher.ValidatePrompt(ids);
        var request = batcher.Submit(ids, options);
        var reader = request.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            while (reader.TryRead(out var token))
            {
                Console.Out.Write(token.Text);
                Console.Out.Flush();
            }
        var output = request.Completion.GetAwaiter().GetResult();
        Console.Out.WriteLine();
        Console.Error.WriteLine(Summary(output));
        return 0;
    }

    private static string Loaded(ITransformerEngine model, EngineKind kind, ParallelPlan? plan, TimeSpan elapsed) =>
        string.Create(CultureInfo.InvariantCulture,
            $"loaded {model.Shape.ModelName} ({kind} engine, {(plan is null ? "one device" : plan.ToString())}, {model.WeightBytes / 1e6:F1} MB of weights) in {elapsed.TotalSeconds:F2} s");

    private static string Summary(GenerationOutput output)
    {
        var m = output.Metrics;
        string reason = output.FinishReason switch
        {
            FinishReason.Stop => "stop",
            FinishReason.MaxTokens => "max tokens",
            _ => "context full",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"prefill: {m.PromptTokens} tokens, {m.PrefillTokensPerSecond:F1} tokens/s; decode: {m.CompletionTokens} tokens, {m.DecodeTokensPerSecond:F1} tokens/s; " +
            $"time to first token: {m.TimeToFirstToken.TotalMilliseconds:F1} ms; inter-token: p50 {m.InterTokenLatency.P50.TotalMilliseconds:F2} ms, " +
            $"p95 {m.InterTokenLatency.P95.TotalMilliseconds:F2} ms; stopped: {reason}");
    }
}
