using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Command lines that System.CommandLine rejects before any command runs: exit code 1, the problem named on stderr,
/// nothing written. (These messages are System.CommandLine's own, followed by the help, not the one-line "error:" form.)
/// </summary>
[Collection(CliCollection.Name)]
public sealed class UsageFailureTests
{
    [Fact]
    public void Logits_WithUnknownEngine_FailsNamingTheValue_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Run("logits", "-c", scratch.Directory, "-t", "1,2,3", "-o", scratch.OutPath, "--engine", "Bogus");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("'Bogus'", result.Error);
        Assert.Contains("--engine", result.Error);
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithoutOut_FailsNamingTheRequiredOption()
    {
        var result = Run("logits", "-t", "1,2,3");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("'--out' is required", result.Error);
    }

    [Fact]
    public void Generate_WithNonNumericMaxNewTokens_FailsNamingTheValue()
    {
        var result = Run("generate", "-t", "1,2,3", "-n", "lots");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains("'lots'", result.Error);
        Assert.DoesNotMatch(@"^\d+(,\d+)*\s*$", result.Out);
    }
}
