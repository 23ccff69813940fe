using System.Text.Json.Nodes;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Plan degrees and sizes at the integer limits (issue 28): each is one error line, checked before anything is sized
/// from them (a schedule, a device list, threads), in at most a few megabytes; a dry run's sizes never overflow.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class PlanDegreeLimitTests
{
    public static TheoryData<string, string, string> HostileDegrees() => new()
    {
        // command, plan flags, what the error line says
        { "plan", "--dp 2147483647", "at most 1024" },
        { "plan", "--sp 2147483647", "at most 1024" },
        { "plan", "--dp 65536 --tp 65536 --sp 65536", "at most 1024" },
        { "plan", "--dp 2 -m 2147483647", "micro-batches" },
        { "logits", "--dp 2147483647", "at most 1024" },
        { "logits", "--sp 2147483647", "at most 1024" },
        { "logits", "--dp 65536", "at most 1024" },
        { "logits", "--dp 1025", "at most 1024" },
        { "logits", "--pp 65536", "at most 1024" },
        { "logits", "--pp 2 -m 2147483647", "micro-batches" },
        { "logits", "--pp 3 -m 2147483647", "micro-batches" },
        { "logits", "--pp 4 -m 1025", "micro-batches" },
        { "logits", "--dp 1000", "one process runs at most" },   // under the plan's bound, past what one process runs
    };

    [Theory]
    [MemberData(nameof(HostileDegrees))]
    public void AHostileDegree_IsOneErrorLine_BeforeAnythingIsSizedFromIt(string command, string flags, string phrase)
    {
        string[] args = command == "plan"
            ? ["plan", "--checkpoint", Bundled("tiny-llama"), "--dry-run", .. flags.Split(' ')]
            : ["logits", "--checkpoint", Bundled("tiny-llama"), "--tokens", "1,2,3", "--out", "never.safetensors", .. flags.Split(' ')];
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var result = Run(args);

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.Contains(phrase, AssertFailsWith(result));
        Assert.True(allocated < 64L << 20, $"{command} {flags} allocated {allocated:N0} bytes\n{result}");
    }

    [Theory]
    [InlineData("--dp 2")]
    [InlineData("--dp 3")]
    [InlineData("--dp 7")]
    [InlineData("--tp 2")]
    public void ADryRunOfTheLargestBatch_CountsItsCacheWithoutOverflow(string flags)
    {
        var result = Run(["plan", "--checkpoint", Bundled("tiny-llama"), "--dry-run", "--json", "--batch", "2147483647", .. flags.Split(' ')]);

        Assert.True(result.ExitCode == 0, result.ToString());
        var json = JsonNode.Parse(result.Out)!;
        long kv = (long)json["kv_cache_bytes"]!;
        Assert.True(kv > 0, $"kv_cache_bytes = {kv}");
        Assert.All(json["devices"]!.AsArray(), d => Assert.True((long)d!["kv_cache_bytes"]! > 0, d.ToJsonString()));
    }
}
