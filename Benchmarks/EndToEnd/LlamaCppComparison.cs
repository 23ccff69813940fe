using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Tessera.Cpu;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Tessera against llama.cpp on the same weights, threads and machine, in one sitting: for each random Llama model and
/// weight type, rounds that alternate llama.cpp's llama-bench (run by ../shared/tools/llama-cpp-bench.sh on the same
/// safetensors folder), Tessera warm (medians of five generations in this process) and Tessera's first request (a
/// fresh process). Prints the medians over rounds and the ratios.
/// </summary>
/// <remarks>
/// What is compared: llama-bench's pp (a prompt into an empty cache) and tg (tokens generated one by one) against
/// Tessera's prefill of the same prompt length and its decode of the same count of tokens after that prompt (so
/// Tessera's decode attends over the prompt too: slightly more work than tg's).
/// </remarks>
public static class LlamaCppComparison
{
    private sealed record Row(string Model, string Type, double PeerPrefill, double PeerDecode, double Prefill, double Decode,
        double ColdPrefill, double ColdDecode);

    public static void Run(string[] args)
    {
        string[] models = args.Length > 0 && args[0] != "all" ? args[0].Split(',') : ["small", "medium"];
        string[] types = args.Length > 1 && args[1] != "both" ? args[1].Split(',') : ["f32", "bf16"];
        int prompt = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 128;
        int generated = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
        int rounds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 3;
        string script = PeerScript();
        Console.WriteLine($"{CpuModel()}, {Environment.ProcessorCount} threads; llama.cpp via {script}; {rounds} alternating rounds, medians");

        var rows = new List<Row>();
        foreach (string model in models)
        {
            string directory = TokensPerSecond.ModelFolder(model);
            foreach (string type in types)
            {
                var precision = type == "bf16" ? WeightPrecision.BF16 : WeightPrecision.F32;
                var peer = new List<(double Prefill, double Decode)>();
                var warm = new List<TokensPerSecond.Figures>();
                var cold = new List<(double Prefill, double Decode)>();
                for (int round = 0; round < rounds; round++)
                {
                    peer.Add(RunPeer(script, directory, type, prompt, generated));
                    warm.Add(TokensPerSecond.Measure(directory, precision, prompt, generated, runs: 5));
                    cold.Add(RunCold(directory, type, prompt, generated));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {model} {type} round {round + 1}: llama.cpp {peer[^1].Prefill:F0} / {peer[^1].Decode:F1}, Tessera {warm[^1].Prefill:F0} / {warm[^1].Decode:F1}, first request {cold[^1].Prefill:F0} / {cold[^1].Decode:F1}"));
                }
                rows.Add(new Row(model, type,
                    TokensPerSecond.Median(peer.Select(p => p.Prefill)), TokensPerSecond.Median(peer.Select(p => p.Decode)),
                    TokensPerSecond.Median(warm.Select(w => w.Prefill)), TokensPerSecond.Median(warm.Select(w => w.Decode)),
                    TokensPerSecond.Median(cold.Select(c => c.Prefill)), TokensPerSecond.Median(cold.Select(c => c.Decode))));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| model | weights | llama.cpp prefill {prompt} | Tessera prefill | llama.cpp decode | Tessera decode | first request prefill / decode (of warm) |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Model} | {r.Type.ToUpperInvariant()} | {r.PeerPrefill:F0} tok/s | {r.Prefill:F0} ({r.Prefill / r.PeerPrefill:F2}x) | {r.PeerDecode:F1} tok/s | {r.Decode:F1} ({r.Decode / r.PeerDecode:F2}x) | {r.ColdPrefill:F0} ({r.ColdPrefill / r.Prefill:P0}) / {r.ColdDecode:F1} ({r.ColdDecode / r.Decode:P0}) |"));
    }

    /// <summary>llama-bench's pp and tg tokens/s (its own mean over 3 repetitions) on the folder's weights.</summary>
    private static (double Prefill, double Decode) RunPeer(string script, string directory, string type, int prompt, int generated)
    {
        string output = RunProcess("bash", [script, directory, type, prompt.ToString(CultureInfo.InvariantCulture),
            generated.ToString(CultureInfo.InvariantCulture), Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)]);
        return (PeerFigure(output, $"pp{prompt}"), PeerFigure(output, $"tg{generated}"));
    }

    /// <summary>The t/s of a llama-bench markdown row: "| ... | pp128 | 6014.23 ± 12.10 |".</summary>
    private static double PeerFigure(string output, string test)
    {
        var match = Regex.Match(output, $@"\|\s*{test}\s*\|\s*([0-9.]+)\s*±");
        if (!match.Success) throw new InvalidOperationException($"llama-bench printed no {test} row:\n{output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>The first generation of a fresh process (this benchmark's <c>tokens ... cold</c> mode).</summary>
    private static (double Prefill, double Decode) RunCold(string directory, string type, int prompt, int generated)
    {
        string self = Environment.ProcessPath!;
        var arguments = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") arguments.Add(typeof(LlamaCppComparison).Assembly.Location);
        arguments.AddRange(["tokens", directory, prompt.ToString(CultureInfo.InvariantCulture), generated.ToString(CultureInfo.InvariantCulture), type, "cold"]);
        string output = RunProcess(self, arguments);
        var match = Regex.Match(output, @"prefill \d+ tokens: ([0-9.]+) tokens/s; decode \d+ tokens: ([0-9.]+) tokens/s");
        if (!match.Success) throw new InvalidOperationException($"the cold run printed no figures:\n{output}");
        return (double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static string RunProcess(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', start.ArgumentList)} failed ({process.ExitCode}):\n{output}{error.Result}");
        return output;
    }

    /// <summary>The peer script: $TESSERA_LLAMA_BENCH, or ../shared/tools/llama-cpp-bench.sh beside the repository.</summary>
    private static string PeerScript()
    {
        if (Environment.GetEnvironmentVariable("TESSERA_LLAMA_BENCH") is { Length: > 0 } configured) return configured;
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Compiler.sln")))
            {
                string script = Path.GetFullPath(Path.Combine(folder.FullName, "..", "shared", "tools", "llama-cpp-bench.sh"));
                if (File.Exists(script)) return script;
            }
        throw new InvalidOperationException("llama-cpp-bench.sh not found: set TESSERA_LLAMA_BENCH to its path.");
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }
}
