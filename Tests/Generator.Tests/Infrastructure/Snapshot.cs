using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;

namespace Tessera.Generator.Tests.Infrastructure;

/// <summary>
/// Snapshot testing in the manner of Verify (not served here): the accepted text lives in
/// _snapshots/{name}.verified.cs; a mismatch writes {name}.received.cs next to it and fails. Set
/// TESSERA_ACCEPT_SNAPSHOTS=1 to accept the received text. Versions are scrubbed so a release does not churn snapshots.
/// </summary>
public static partial class Snapshot
{
    public const string AcceptVariable = "TESSERA_ACCEPT_SNAPSHOTS";

    public static void Match(string name, string actual, [CallerFilePath] string callerPath = "")
    {
        string directory = Path.Combine(GeneratorHarness.RepositoryRoot(), "Tests", "Generator.Tests", "_snapshots");
        Directory.CreateDirectory(directory);
        string verified = Path.Combine(directory, name + ".verified.cs");
        string received = Path.Combine(directory, name + ".received.cs");
        string scrubbed = Scrub(actual);

        if (Environment.GetEnvironmentVariable(AcceptVariable) == "1")
        {
            File.WriteAllText(verified, scrubbed);
            if (File.Exists(received)) File.Delete(received);
            return;
        }

        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == scrubbed)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }

        File.WriteAllText(received, scrubbed);
        Assert.Fail(expected is null
            ? $"No snapshot {verified} yet. Review {received} and accept it with {AcceptVariable}=1."
            : $"Generated source differs from {verified} (first difference at line {FirstDifference(expected, scrubbed)}). Review {received}; accept with {AcceptVariable}=1.");
    }

    private static string Scrub(string text) => VersionPattern().Replace(text.Replace("\r\n", "\n"), "\"Tessera.Generator\", \"<ASSEMBLY_VERSION>\"");

    private static int FirstDifference(string a, string b)
    {
        var la = a.Split('\n');
        var lb = b.Split('\n');
        for (int i = 0; i < Math.Min(la.Length, lb.Length); i++)
            if (la[i] != lb[i]) return i + 1;
        return Math.Min(la.Length, lb.Length) + 1;
    }

    [GeneratedRegex("\"Tessera\\.Generator\", \"[0-9.]+\"")]
    private static partial Regex VersionPattern();
}
