using System.Text.Json.Nodes;
using Tessera.Models.Cli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// The CLI tests swap the process-wide Console.Out / Console.Error, so they run in one collection, never in parallel
/// with each other or with any other collection.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CliCollection
{
    public const string Name = "tessera CLI (captures the console)";
}

/// <summary>What one in-process run of <c>tessera</c> returned and printed.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Error)
{
    public string[] ErrorLines => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

internal static class TesseraCli
{
    private static readonly object Console_ = new();

    /// <summary>Runs <c>Program.Main</c> in-process with the console captured.</summary>
    public static CliResult Run(params string[] args)
    {
        lock (Console_)
        {
            var (oldOut, oldError) = (Console.Out, Console.Error);
            var (output, error) = (new StringWriter(), new StringWriter());
            try
            {
                Console.SetOut(output);
                Console.SetError(error);
                int code = Program.Main(args);
                return new CliResult(code, output.ToString(), error.ToString());
            }
            finally
            {
                Console.SetOut(oldOut);
                Console.SetError(oldError);
            }
        }
    }

    public static string Bundled(string name) => EngineCatalog.Bundled(name);

    /// <summary>The reference outputs of a bundled checkpoint: prompt, per-position logits and greedy continuation.</summary>
    public static (int[] Tokens, RawTensor Logits, int[] Greedy) Reference(string name)
    {
        var tensors = SafetensorsFixture.Read(Path.Combine(Bundled(name), "reference.safetensors"));
        return (tensors.Single(t => t.Name == "tokens").Ints(), tensors.Single(t => t.Name == "logits"), tensors.Single(t => t.Name == "greedy").Ints());
    }

    public static string Ids(IEnumerable<int> ids) => string.Join(",", ids);

    /// <summary>
    /// The contract of an expected failure: exit code 1, nothing on stdout, exactly one <c>error:</c> line on stderr
    /// (the last one, no stack trace) that contains every key word.
    /// </summary>
    public static string AssertFailsWith(CliResult result, params string[] keyWords)
    {
        Assert.True(result.ExitCode == 1, $"expected exit code 1\n{result}");
        Assert.True(result.Out.Length == 0, $"expected nothing on stdout\n{result}");
        var lines = result.ErrorLines;
        Assert.True(lines.Length > 0, $"expected an error on stderr\n{result}");
        Assert.True(lines.Count(l => l.StartsWith("error: ", StringComparison.Ordinal)) == 1 && lines[^1].StartsWith("error: ", StringComparison.Ordinal),
            $"expected exactly one 'error: ...' line, last on stderr\n{result}");
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        string message = lines[^1];
        Assert.DoesNotContain("(Parameter '", message);
        foreach (var word in keyWords)
            Assert.True(message.Contains(word, StringComparison.OrdinalIgnoreCase), $"expected the error to mention \"{word}\"\n{result}");
        return message;
    }
}

/// <summary>
/// A scratch copy of a bundled checkpoint (config.json + model.safetensors) that a test may corrupt, and an empty
/// folder for --out, so "nothing was written" means "the folder is still empty" (no output and no temp file).
/// </summary>
internal sealed class ScratchCheckpoint : IDisposable
{
    private readonly string _root;

    public ScratchCheckpoint(string bundled = "tiny-llama")
    {
        _root = Path.Combine(Path.GetTempPath(), "tessera-cli-tests", Guid.NewGuid().ToString("N"));
        Directory = Path.Combine(_root, bundled);
        OutDirectory = Path.Combine(_root, "out");
        System.IO.Directory.CreateDirectory(Directory);
        System.IO.Directory.CreateDirectory(OutDirectory);
        foreach (var file in new[] { "config.json", "model.safetensors" })
            File.Copy(Path.Combine(TesseraCli.Bundled(bundled), file), Path.Combine(Directory, file));
    }

    public string Directory { get; }

    public string ModelPath => Path.Combine(Directory, "model.safetensors");

    public string ConfigPath => Path.Combine(Directory, "config.json");

    public string OutDirectory { get; }

    public string OutPath => Path.Combine(OutDirectory, "logits.safetensors");

    /// <summary>A folder inside the scratch root that does not exist.</summary>
    public string Missing => Path.Combine(_root, "no-such-checkpoint");

    public void EditConfig(string key, JsonNode? value)
    {
        var config = JsonNode.Parse(File.ReadAllText(ConfigPath))!.AsObject();
        config[key] = value;
        File.WriteAllText(ConfigPath, config.ToJsonString());
    }

    public void AssertNothingWritten() =>
        Assert.True(System.IO.Directory.GetFileSystemEntries(OutDirectory).Length == 0,
            $"expected no output, found: {string.Join(", ", System.IO.Directory.GetFileSystemEntries(OutDirectory).Select(Path.GetFileName))}");

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // A memory map still open on Windows; the OS temp folder is cleaned eventually.
        }
    }
}
