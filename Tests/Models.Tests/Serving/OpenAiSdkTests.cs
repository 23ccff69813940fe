using System.Diagnostics;
using System.Text;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// The official OpenAI Node SDK and LangChain's ChatOpenAI as real clients of the server (Tests/OpenAiClient/
/// sdk-checks.mjs): every request feature the server serves, through the client code users run. Needs <c>npm ci</c> in
/// Tests/OpenAiClient: without its node_modules the test is skipped with that reason, unless
/// TESSERA_REQUIRE_OPENAI_CLIENT=1 (CI sets it and installs them), where it fails.
/// </summary>
public sealed class OpenAiSdkTests(ChatServerFixture server) : IClassFixture<ChatServerFixture>
{
    [OpenAiClientFact]
    public async Task TheOpenAiSdkAndLangChain_GetWhatOpenAiDocuments_ForEveryFeature()
    {
        if (!OpenAiClient.Installed)
            throw new InvalidOperationException($"TESSERA_REQUIRE_OPENAI_CLIENT=1, but {OpenAiClient.Folder} has no node_modules/openai: run npm ci --prefix Tests/OpenAiClient.");
        var info = new ProcessStartInfo("node")
        {
            WorkingDirectory = OpenAiClient.Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string argument in (string[])["sdk-checks.mjs", new Uri(server.Server.Address, "v1").ToString(), ChatServerFixture.ModelName, ChatServerFixture.Origin])
            info.ArgumentList.Add(argument);
        using var node = Process.Start(info)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await node.WaitForExitAsync(timeout.Token);

        string report = await output + await errors;
        Assert.True(node.ExitCode == 0, report);
        Assert.Contains("all checks passed", report);
        Assert.DoesNotContain("FAIL", report);
    }
}

/// <summary>A fact that runs the OpenAI SDK: skipped, with the reason, where Tests/OpenAiClient has no node_modules (outside CI).</summary>
public sealed class OpenAiClientFactAttribute : FactAttribute
{
    public OpenAiClientFactAttribute()
    {
        if (!OpenAiClient.Installed && Environment.GetEnvironmentVariable("TESSERA_REQUIRE_OPENAI_CLIENT") != "1")
            Skip = "the OpenAI Node SDK is not installed: run npm ci --prefix Tests/OpenAiClient to drive the server with it";
    }
}

/// <summary>Tests/OpenAiClient of the source tree the test binary was built from.</summary>
internal static class OpenAiClient
{
    public static string Folder { get; } = Find();

    public static bool Installed => Directory.Exists(Path.Combine(Folder, "node_modules", "openai"));

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? ".", "Tests", "OpenAiClient");
    }
}
