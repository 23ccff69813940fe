using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Command lines that System.CommandLine rejects before any command runs: exit code 1, the problem named on one
/// <c>error:</c> line with where to find the options, as every other failure of the CLI (issue 28: it was
/// System.CommandLine's message followed by the whole help), and nothing written. Numbers are invariant and exact.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class UsageFailureTests
{
    [Fact]
    public void Logits_WithUnknownEngine_FailsNamingTheValue_AndWritesNothing()
    {
        using var scratch = new ScratchCheckpoint();

        var result = Run("logits", "-c", scratch.Directory, "-t", "1,2,3", "-o", scratch.OutPath, "--engine", "Bogus");

        AssertFailsWith(result, "'Bogus'", "--engine", "tessera logits --help");
        scratch.AssertNothingWritten();
    }

    [Fact]
    public void Logits_WithoutOut_FailsNamingTheRequiredOption()
    {
        var result = Run("logits", "-t", "1,2,3");

        AssertFailsWith(result, "'--out' is required", "tessera logits --help");
    }

    [Fact]
    public void Generate_WithNonNumericMaxNewTokens_FailsNamingTheValue()
    {
        var result = Run("generate", "-t", "1,2,3", "-n", "lots");

        AssertFailsWith(result, "--max-new-tokens 'lots' is not an integer");
    }

    [Fact]
    public void AnUnknownOption_IsOneErrorLine_NotTheHelp()
    {
        var result = Run("generate", "-t", "1,2,3", "--bogus");

        AssertFailsWith(result, "'--bogus'", "tessera generate --help");
        Assert.DoesNotContain("Usage:", result.Error);
    }

    [Fact]
    public void AnUnknownCommand_IsOneErrorLine()
    {
        AssertFailsWith(Run("bogus"), "'bogus'", "tessera --help");
    }

    [Fact]
    public void AnOptionWithoutItsValue_IsOneErrorLine()
    {
        AssertFailsWith(Run("generate", "-t", "1,2,3", "--temperature"), "--temperature");
    }

    /// <summary>"1,5" was read as 15: System.CommandLine parses with the thousands separator allowed.</summary>
    [Theory]
    [InlineData("--temperature", "1,5")]
    [InlineData("--top-p", "0,9")]
    [InlineData("--temperature", "NaN")]
    [InlineData("--temperature", "Infinity")]
    [InlineData("--max-new-tokens", "1,000")]
    [InlineData("--max-new-tokens", "1e3")]
    [InlineData("--max-new-tokens", "0x10")]
    [InlineData("--seed", "1,234")]
    public void ANumberThatIsNotWrittenExactly_IsRefused_NotGuessed(string option, string value)
    {
        var result = Run("generate", "-p", "hi", option, value);

        AssertFailsWith(result, $"{option} '{value}' is not");
    }

    [Fact]
    public void Numbers_AreReadTheSameUnderEveryCulture()
    {
        var culture = System.Globalization.CultureInfo.CurrentCulture;
        try
        {
            // German writes 1,5 for one and a half: the command line does not, whatever the machine's culture.
            System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
            AssertFailsWith(Run("generate", "-p", "hi", "--temperature", "1,5"), "--temperature '1,5'");
            var result = Run("generate", "-p", "hi", "--temperature", "0.5", "--seed", "1", "-n", "2");
            Assert.True(result.ExitCode == 0, result.ToString());
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = culture;
        }
    }
}
