using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// A <c>tessera serve</c> child process on a free loopback port: the product as users run it, so that what the soak
/// measures (memory, shutdown) is the server's own, not the benchmark's.
/// </summary>
internal sealed partial class ServedProcess : IDisposable
{
    private readonly Process _process;

    private ServedProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<ServedProcess> StartAsync(string checkpoint)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { TesseraDll(), "serve", "--checkpoint", checkpoint, "--port", "0" }) start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start tessera serve");
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await process.StandardError.ReadLineAsync(timeout.Token) is { } line)
            if (ServingAt().Match(line) is { Success: true } match)
            {
                _ = process.StandardError.ReadToEndAsync(); // keep draining
                return new ServedProcess(process, new Uri(match.Groups[1].Value));
            }
        throw new InvalidOperationException($"tessera serve exited ({process.ExitCode}) before it was serving");
    }

    /// <summary>The server's resident memory now.</summary>
    public long WorkingSet()
    {
        _process.Refresh();
        return _process.WorkingSet64;
    }

    /// <summary>SIGTERM, as a service manager stops it; true if it exited within <paramref name="within"/>.</summary>
    public bool Stop(TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
        if (_process.WaitForExit(within)) return true;
        _process.Kill(entireProcessTree: true);
        return false;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }

    /// <summary>The tessera app built beside this benchmark (Models/bin/CONFIG/net10.0/tessera.dll).</summary>
    private static string TesseraDll()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        string configuration = here.Parent!.Name; // bin/Release/net10.0/
        for (var dir = here; dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "Models", "bin", configuration, "net10.0", "tessera.dll");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("tessera.dll not found: build Models first (dotnet build -c Release Models).");
    }

    [GeneratedRegex(@"\bat (http://\S+?/) ")]
    private static partial Regex ServingAt();
}
