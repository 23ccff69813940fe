using System.Diagnostics;
using Tessera.Checkpoints;
using Tessera.Models.Tests.Gguf;
using static Tessera.Models.Tests.Cli.TesseraCli;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// Special files where the CLI expects a regular one (issue 28): a FIFO, a device (/dev/zero, /dev/urandom, /dev/null)
/// or a folder in place of each file a command reads (config.json, tokenizer files, the shard index, --file, --text,
/// --messages) or writes (--out, --svg, a trained tokenizer's files). Each is refused at once with one error line that
/// says what the path is: no read that blocks forever on a FIFO or grows without end from /dev/zero, and no output
/// renamed over a device. The cases complement <see cref="CheckpointFuzzTests"/>, whose mutations are of file contents.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class SpecialFileTests : IDisposable
{
    /// <summary>A case that has not failed by then is blocked (on a FIFO's open) or reading without end.</summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "tessera-special-files", Guid.NewGuid().ToString("N"));

    public SpecialFileTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public enum Special
    {
        Fifo,
        DevZero,
        DevUrandom,
        DevNull,
        Folder,
    }

    /// <summary>The words of the error line for each kind (a device is reached through a symbolic link named as the file).</summary>
    private static string Named(Special kind) => kind switch
    {
        Special.Fifo => "a FIFO",
        Special.Folder => "a directory",
        _ => "a character device",
    };

    /// <summary>Puts <paramref name="kind"/> at <paramref name="path"/>, in place of what was there.</summary>
    private static void Place(string path, Special kind)
    {
        if (File.Exists(path)) File.Delete(path);
        switch (kind)
        {
            case Special.Fifo:
                using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!)
                {
                    mkfifo.WaitForExit();
                    Assert.Equal(0, mkfifo.ExitCode);
                }
                break;
            case Special.DevZero: File.CreateSymbolicLink(path, "/dev/zero"); break;
            case Special.DevUrandom: File.CreateSymbolicLink(path, "/dev/urandom"); break;
            case Special.DevNull: File.CreateSymbolicLink(path, "/dev/null"); break;
            case Special.Folder: Directory.CreateDirectory(path); break;
        }
    }

    /// <summary>A copy of a bundled checkpoint folder, every file of it.</summary>
    private string Copy(string bundled)
    {
        string folder = Path.Combine(_root, bundled);
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Bundled(bundled))) File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        return folder;
    }

    /// <summary>Runs the CLI; a run still going after <see cref="HangLimit"/> fails the test (and is unblocked by opening its FIFO).</summary>
    private static CliResult RunBounded(string special, params string[] args)
    {
        var run = Task.Run(() => Run(args));
        if (run.Wait(HangLimit)) return run.Result;
        if (Directory.Exists(special) is false && File.Exists(special))
            try
            {
                using var unblock = new FileStream(special, FileMode.Open, FileAccess.ReadWrite); // Linux opens a FIFO for both without waiting
            }
            catch (IOException)
            {
            }
        Assert.Fail($"tessera {string.Join(' ', args)} was still running after {HangLimit.TotalSeconds} s: a blocked or endless read");
        return null!;
    }

    public static TheoryData<string, Special> InputCases()
    {
        var cases = new TheoryData<string, Special>();
        foreach (var file in new[] { "config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json", "vocab.json", "merges.txt", "tokenize --file", "tokenizer-train --text", "template --messages" })
            foreach (var kind in Enum.GetValues<Special>())
                // A folder named as a checkpoint's file is no such file: the loader says which file it lacks.
                if (kind != Special.Folder || file.Contains(' ', StringComparison.Ordinal))
                    cases.Add(file, kind);
        return cases;
    }

    [UnixTheory]
    [MemberData(nameof(InputCases))]
    public void AnInputThatIsNoRegularFile_IsRefusedAtOnce_NamingWhatItIs(string input, Special kind)
    {
        string llama = Copy("tiny-llama"), gpt2 = Copy("tiny-gpt2"), scratch = Path.Combine(_root, "input");
        string output = Path.Combine(_root, "logits.safetensors");
        var (special, args) = input switch
        {
            "config.json" => (Path.Combine(llama, input), new[] { "logits", "-c", llama, "-t", "1,2,3", "-o", output }),
            "model.safetensors" => (Path.Combine(llama, input), ["logits", "-c", llama, "-t", "1,2,3", "-o", output]),
            "model.safetensors.index.json" => (Path.Combine(llama, input), ["logits", "-c", llama, "-t", "1,2,3", "-o", output]),
            "tokenizer.json" or "tokenizer_config.json" => (Path.Combine(llama, input), ["tokenize", "-c", llama, "--text", "hi"]),
            "generation_config.json" or "vocab.json" or "merges.txt" => (Path.Combine(gpt2, input), ["tokenize", "-c", gpt2, "--text", "hi"]),
            "tokenize --file" => (scratch, ["tokenize", "-c", llama, "--file", scratch]),
            "tokenizer-train --text" => (scratch, ["tokenizer-train", "--text", scratch, "--vocab-size", "300", "-o", Path.Combine(_root, "trained")]),
            "template --messages" => (scratch, ["template", "-c", llama, "--messages", scratch]),
            _ => throw new ArgumentOutOfRangeException(nameof(input)),
        };
        if (input == "model.safetensors.index.json") File.Delete(Path.Combine(llama, "model.safetensors"));
        if (input == "template --messages") File.WriteAllText(Path.Combine(llama, "chat_template.jinja"), "{{ messages[0].content }}");
        Place(special, kind);

        var clock = Stopwatch.StartNew();
        var result = RunBounded(special, args);

        AssertFailsWith(result, Path.GetFileName(special), Named(kind), "not a regular file");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"refused only after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.False(File.Exists(output));
    }

    public static TheoryData<string, Special> OutputCases()
    {
        var cases = new TheoryData<string, Special>();
        foreach (var output in new[] { "logits --out", "quantize --out", "plan --svg", "tokenizer-train tokenizer.json", "tokenizer-train merges.txt" })
            foreach (var kind in new[] { Special.Fifo, Special.DevNull, Special.Folder })
                cases.Add(output, kind);
        return cases;
    }

    [UnixTheory]
    [MemberData(nameof(OutputCases))]
    public void AnOutputThatIsNoRegularFile_IsRefused_AndLeftAsItWas(string output, Special kind)
    {
        string corpus = Path.Combine(_root, "corpus.txt"), trained = Path.Combine(_root, "trained");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 50)));
        Directory.CreateDirectory(trained);
        string special = Path.Combine(output.StartsWith("tokenizer-train", StringComparison.Ordinal) ? trained : _root, output.Split(' ')[1] switch
        {
            "--svg" => "schedule.svg",
            "--out" => "out.bin",
            var name => name,
        });
        string[] args = output switch
        {
            "logits --out" => ["logits", "-t", "1,2,3", "-o", special],
            "quantize --out" => ["quantize", "-c", GgufFiles.Path("tiny-qwen3-f32"), "--type", "Q8_0", "-o", special],
            "plan --svg" => ["plan", "--pp", "2", "--svg", special],
            "tokenizer-train tokenizer.json" => ["tokenizer-train", "--text", corpus, "--vocab-size", "270", "-o", trained],
            "tokenizer-train merges.txt" => ["tokenizer-train", "--text", corpus, "--vocab-size", "270", "--format", "gpt2", "-o", trained],
            _ => throw new ArgumentOutOfRangeException(nameof(output)),
        };
        Place(special, kind);

        var result = RunBounded(special, args);

        AssertFailsWith(result, Path.GetFileName(special), Named(kind), "not a regular file");
        // Still what it was: a rename over it would have left a regular file.
        if (kind == Special.DevNull) Assert.Equal("/dev/null", new FileInfo(special).LinkTarget);
        else if (kind == Special.Folder) Assert.True(Directory.Exists(special));
        else Assert.Throws<CheckpointException>(() => FileText.RequireRegularFile(special));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(special)!, "*.tmp-*"));
    }
}

/// <summary>A theory that needs Unix's special files (mkfifo, /dev/zero): skipped, with the reason, on Windows.</summary>
internal sealed class UnixTheoryAttribute : TheoryAttribute
{
    public UnixTheoryAttribute()
    {
        if (OperatingSystem.IsWindows()) Skip = "special files (mkfifo, /dev/zero, /dev/null) are Unix's; Windows has neither";
    }
}
