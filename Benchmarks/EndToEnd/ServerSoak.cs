using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Models;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// <c>soak [DIR|tiny-llama] [clients] [seconds] [probe,probe...]</c>: a <c>tessera serve</c> process on loopback under
/// N concurrent clients for T seconds, each sending a fixed mix of requests: greedy and seeded completions, chat,
/// streams, logprobs, n with penalties and a logit bias, a forced tool call and a JSON schema (constrained decoding),
/// and hostile ones (bad JSON, a duplicate key, a prompt past the context, a 1 MB prompt, an oversized max_tokens or
/// n, a role that is none, a tool message without its call, a schema keyword not served, a field not served, a bias
/// outside the vocabulary, a temperature out of range). Checks that identical requests get identical outputs, that every answer is 200 or the 4xx its request
/// deserves (never a 5xx), that the server's memory stays flat (its working set sampled every second: the first half's
/// highest against the second half's), and that SIGTERM ends it within seconds.
/// </summary>
internal static class ServerSoak
{
    private sealed record Probe(string Name, string Path, string Body, int Status, bool Deterministic);

    public static void Run(string[] args)
    {
        string directory = args.Length > 0 && Directory.Exists(args[0]) ? args[0] : EngineCatalog.Bundled(args.Length > 0 ? args[0] : "tiny-llama");
        int clients = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
        double seconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 30;
        string[]? only = args.Length > 3 ? args[3].Split(',') : null; // a subset of the probes, to find what grows
        RunAsync(directory, clients, TimeSpan.FromSeconds(seconds), only).GetAwaiter().GetResult();
    }

    private static Probe[] Probes(int context)
    {
        string big = new('x', 1 << 20);
        // Tool declarations and schemas make long prompts: served where the context holds them, else refused for it.
        int fits = context >= 1024 ? 200 : 400;
        const string Weather = """{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Oslo"]}, "celsius": {"type": "boolean"}}, "required": ["city", "celsius"], "additionalProperties": false}}}""";
        return
        [
            new("greedy", "/v1/completions", """{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0}""", 200, true),
            new("seeded", "/v1/completions", """{"prompt": "The cat", "max_tokens": 12, "temperature": 0.8, "top_p": 0.9, "seed": 7}""", 200, true),
            new("chat", "/v1/chat/completions", """{"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 8, "temperature": 0}""", 200, true),
            new("stream", "/v1/completions", """{"prompt": "A", "max_tokens": 8, "temperature": 0, "stream": true}""", 200, true),
            new("logprobs", "/v1/chat/completions", """{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 6, "temperature": 0, "logprobs": true, "top_logprobs": 3}""", 200, true),
            new("n-3", "/v1/completions", """{"prompt": "The dog", "max_tokens": 6, "n": 3, "seed": 11, "presence_penalty": 1.5, "logit_bias": {"5": -100}}""", 200, true),
            new("tool-required", "/v1/chat/completions", $$"""{"messages": [{"role": "user", "content": "Weather?"}], "tools": [{{Weather}}], "tool_choice": "required", "max_tokens": 60, "seed": 3}""", fits, true),
            new("json-schema", "/v1/chat/completions", """{"messages": [{"role": "user", "content": "JSON"}], "max_tokens": 60, "seed": 4, "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}, "n": {"type": "integer"}}, "required": ["ok", "n"], "additionalProperties": false}}}}""", fits, true),
            new("bad-json", "/v1/completions", """{"prompt": "A",""", 400, true),
            new("duplicate-key", "/v1/completions", """{"prompt": "A", "prompt": "B"}""", 400, true),
            new("past-context", "/v1/completions", $$"""{"prompt": [{{string.Join(",", Enumerable.Repeat(5, context + 1))}}]}""", 400, true),
            new("1MB-prompt", "/v1/completions", $$"""{"prompt": "{{big}}"}""", 400, true),
            new("huge-max-tokens", "/v1/completions", """{"prompt": "A", "max_tokens": 99999999, "temperature": 0}""", 400, true),
            new("huge-n", "/v1/completions", """{"prompt": "A", "n": 100000}""", 400, true),
            new("wizard-role", "/v1/chat/completions", """{"messages": [{"role": "wizard", "content": "hi"}]}""", 400, true),
            new("tool-without-id", "/v1/chat/completions", """{"messages": [{"role": "tool", "content": "18"}]}""", 400, true),
            new("unserved-schema", "/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "integer", "minimum": 3}}}}""", 400, true),
            new("unsupported-field", "/v1/chat/completions", """{"messages": [{"role": "user", "content": "x"}], "audio": {"voice": "alloy"}}""", 400, true),
            new("bad-logit-bias", "/v1/completions", """{"prompt": "A", "logit_bias": {"99999999": 5}}""", 400, true),
            new("temperature-3", "/v1/completions", """{"prompt": "A", "temperature": 3}""", 400, true),
        ];
    }

    private static async Task RunAsync(string directory, int clients, TimeSpan duration, string[]? only)
    {
        using var server = await ServedProcess.StartAsync(directory);
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(120) };
        int context = (int)JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!.AsObject()
            .Where(p => p.Key is "max_position_embeddings" or "n_positions").Select(p => (int)p.Value!).First();
        var probes = Probes(context).Where(p => only is null || only.Contains(p.Name)).ToArray();
        var firstAnswer = new Dictionary<string, string>();
        var latencies = new List<double>();
        var counts = probes.ToDictionary(p => p.Name, _ => 0);
        int wrongStatus = 0, differing = 0, serverErrors = 0;
        var failures = new List<string>();

        async Task<(int Status, string Body, double Ms)> SendAsync(Probe probe)
        {
            long start = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(probe.Path, new StringContent(probe.Body, Encoding.UTF8, "application/json"));
            string body = await response.Content.ReadAsStringAsync();
            return ((int)response.StatusCode, body, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }

        // Warm-up: every probe once; its answer is the one every later identical request must give.
        foreach (var probe in probes) firstAnswer[probe.Name] = Normalise((await SendAsync(probe)).Body);
        long afterWarmUp = server.WorkingSet(), peak = afterWarmUp;
        var samples = new List<long>();

        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var gate = new object();
        var sampling = Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                await Task.Delay(1000);
                long now = server.WorkingSet();
                lock (gate)
                {
                    samples.Add(now);
                    peak = Math.Max(peak, now);
                }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            for (int i = client; Stopwatch.GetTimestamp() < end; i++)
            {
                var probe = probes[i % probes.Length];
                var (status, body, ms) = await SendAsync(probe);
                lock (gate)
                {
                    counts[probe.Name]++;
                    latencies.Add(ms);
                    if (status >= 500) serverErrors++;
                    if (status != probe.Status)
                    {
                        wrongStatus++;
                        if (failures.Count < 5) failures.Add($"{probe.Name}: {status} {body[..Math.Min(200, body.Length)]}");
                    }
                    else if (probe.Deterministic && Normalise(body) != firstAnswer[probe.Name])
                    {
                        differing++;
                        if (failures.Count < 5) failures.Add($"{probe.Name}: output differs: {body[..Math.Min(200, body.Length)]}");
                    }
                }
            }
        })).Append(sampling));
        long atEnd = server.WorkingSet();
        // The second half's samples against the first's: a server that grows without bound keeps climbing.
        long firstHalf = samples.Take(samples.Count / 2).DefaultIfEmpty(atEnd).Max(), secondHalf = samples.Skip(samples.Count / 2).DefaultIfEmpty(atEnd).Max();
        var stopping = Stopwatch.StartNew();
        bool stopped = server.Stop(TimeSpan.FromSeconds(30));

        latencies.Sort();
        int total = latencies.Count;
        Console.WriteLine($"soak: {Path.GetFileName(directory)} served by a `tessera serve` process, {clients} clients, {duration.TotalSeconds:0} s, {Environment.ProcessorCount} cores");
        Console.WriteLine($"requests: {total} ({total / duration.TotalSeconds:0.#}/s); " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")));
        Console.WriteLine($"latency ms: p50 {Percentile(latencies, 0.5):0.0}, p99 {Percentile(latencies, 0.99):0.0}, max {(total > 0 ? latencies[^1] : 0):0.0}");
        Console.WriteLine($"wrong status: {wrongStatus}; 5xx: {serverErrors}; identical requests with different outputs: {differing}");
        Console.WriteLine($"server working set: {Mib(afterWarmUp)} after warm-up, peak {Mib(peak)}, highest in the first half {Mib(firstHalf)}, in the second half {Mib(secondHalf)}, at the end {Mib(atEnd)}");
        Console.WriteLine($"SIGTERM: {(stopped ? $"exited in {stopping.Elapsed.TotalSeconds:0.0} s" : "still running after 30 s (killed)")}");
        foreach (var failure in failures) Console.WriteLine($"  {failure}");
        bool ok = wrongStatus == 0 && differing == 0 && serverErrors == 0 && stopped;
        Console.WriteLine(ok ? "soak: OK" : "soak: FAILED");
        if (!ok) Environment.ExitCode = 1;
    }

    /// <summary>
    /// Ids and timestamps differ per request; the rest of the body must not, but for the last bits of log-probabilities
    /// (compared to 1e-4): a sequence's logits come from products whose rows are batched with whatever else runs, and
    /// the summation order of a batched product moves their last bits (the tokens chosen stay the same).
    /// </summary>
    private static string Normalise(string body)
    {
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            string json = line.StartsWith("data: ", StringComparison.Ordinal) ? line[6..] : line;
            if (json == "[DONE]" || !json.StartsWith('{')) return json;
            var node = JsonNode.Parse(json)!.AsObject();
            node.Remove("id");
            node.Remove("created");
            RoundLogprobs(node);
            return node.ToJsonString();
        });
        return string.Join("\n", lines);
    }

    private static void RoundLogprobs(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                    if (key == "logprob" && value is JsonValue v && v.TryGetValue(out double x)) obj[key] = Math.Round(x, 4);
                    else RoundLogprobs(value);
                break;
            case JsonArray array:
                foreach (var item in array) RoundLogprobs(item);
                break;
        }
    }

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static string Mib(long bytes) => $"{bytes / (1024.0 * 1024):0.0} MiB";
}
