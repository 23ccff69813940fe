using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// <c>tessera serve</c>: it listens before it loads (a load that fails is still one <c>error:</c> line and exit 1, a port
/// in use fails before any loading), takes --served-model-name and --allowed-origins as vLLM does, and a served
/// process answers /health 200 once loaded and exits 0 on SIGTERM.
/// </summary>
[Collection(CliCollection.Name)]
public sealed partial class ServeCliTests
{
    [Fact]
    public void Serve_WithACheckpointThatDoesNotExist_ListensFirst_ThenFailsWithOneErrorLine()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Run("serve", "-c", scratch.Missing, "--port", "0");

        AssertFailsWith(result, scratch.Missing, "does not exist");
        Assert.Contains(result.ErrorLines, l => l.StartsWith("listening at http://127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public void Serve_OnAPortInUse_FailsWithOneErrorLine_BeforeLoading()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        string port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);

        var result = Run("serve", "--port", port);

        AssertFailsWith(result, port);
        Assert.DoesNotContain(result.ErrorLines, l => l.StartsWith("listening", StringComparison.Ordinal));
    }

    /// <summary>An address of no interface of this machine (TEST-NET-1): Kestrel's SocketException and its stack trace (issue 28).</summary>
    [Fact]
    public void Serve_OnAnAddressNotOfThisMachine_FailsWithOneErrorLine_BeforeLoading()
    {
        var result = Run("serve", "--host", "192.0.2.1", "--port", "0");

        AssertFailsWith(result, "--host 192.0.2.1", "cannot listen");
        Assert.DoesNotContain(result.ErrorLines, l => l.StartsWith("listening", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--allowed-origins", "example.com", "--allowed-origins")]
    [InlineData("--allowed-origins", "http://ok.example,https://a.example/path", "https://a.example/path")]
    [InlineData("--served-model-name", "", "--served-model-name")]
    public void Serve_WithAnOptionOutOfRange_FailsNamingIt_BeforeListening(string option, string value, string named)
    {
        var result = Run("serve", "--port", "0", option, value);

        AssertFailsWith(result, named);
        Assert.DoesNotContain(result.ErrorLines, l => l.StartsWith("listening", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AServeProcess_AnswersHealth200OnceLoaded_UnderItsServedNames_WithCors_AndExits0OnSigterm()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "tessera.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[] { dll, "serve", "--port", "0", "--served-model-name", "small", "gpt-3.5-turbo", "--allowed-origins", "http://app.example" })
            start.ArgumentList.Add(argument);
        using var process = new Process { StartInfo = start };
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            log.Enqueue(e.Data);
            if (ListeningAt().Match(e.Data) is { Success: true } match) listening.TrySetResult(new Uri(match.Groups[1].Value));
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromMinutes(2));
            using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));

            var statuses = new List<HttpStatusCode>();
            while (statuses.LastOrDefault() != HttpStatusCode.OK && !timeout.IsCancellationRequested)
            {
                using var health = await client.GetAsync("/health");
                statuses.Add(health.StatusCode);
                if (health.StatusCode != HttpStatusCode.OK) await Task.Delay(20);
            }
            Assert.All(statuses[..^1], s => Assert.Equal(HttpStatusCode.ServiceUnavailable, s)); // loading, then serving
            Assert.Equal(HttpStatusCode.OK, statuses[^1]);
            var models = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!["data"]!.AsArray().Select(m => (string)m!["id"]!);
            Assert.Equal(["small", "gpt-3.5-turbo"], models);
            using var request = new HttpRequestMessage(HttpMethod.Get, "/health");
            request.Headers.Add("Origin", "http://app.example");
            using var cors = await client.SendAsync(request);
            Assert.Equal("http://app.example", cors.Headers.GetValues("Access-Control-Allow-Origin").Single());

            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "still running 30 s after SIGTERM");
            Assert.Equal(0, process.ExitCode);
        }
        catch (Exception e)
        {
            throw new Xunit.Sdk.XunitException($"{e.GetType().Name}: {e.Message}\n--- tessera serve's stderr ---\n{string.Join("\n", log)}");
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [GeneratedRegex(@"^listening at (http://\S+?/);")]
    private static partial Regex ListeningAt();
}
