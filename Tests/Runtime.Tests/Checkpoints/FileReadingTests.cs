using System.Diagnostics;
using System.Text;
using Tessera.Checkpoints;

namespace Tessera.Runtime.Tests.Checkpoints;

/// <summary>
/// <see cref="FileText.ReadBytes"/> and <see cref="OutputFile"/>, the one way Tessera reads a whole file and writes one
/// (issue 28): regular files only, bounded by the kind of file, outputs whole or not at all and never over a device.
/// </summary>
public sealed class FileReadingTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static readonly FileLimit TenBytes = new("test file", 10);

    private string Fifo(string name)
    {
        string path = _folder.File(name);
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    [Fact]
    public void ARegularFile_WithinItsLimit_IsReadWhole()
    {
        File.WriteAllBytes(_folder.File("a.json"), "0123456789"u8.ToArray());

        Assert.Equal("0123456789"u8.ToArray(), FileText.ReadBytes(_folder.File("a.json"), TenBytes));
    }

    [Fact]
    public void AFileLargerThanItsLimit_IsRefused_NamingTheFileAndTheLimit()
    {
        File.WriteAllBytes(_folder.File("big.json"), new byte[11]);

        var error = Assert.Throws<CheckpointException>(() => FileText.ReadBytes(_folder.File("big.json"), TenBytes));

        Assert.Contains("big.json", error.Message);
        Assert.Contains("more than a test file may hold", error.Message);
    }

    [Fact]
    public void Text_IsUtf8_WithoutItsByteOrderMark()
    {
        File.WriteAllBytes(_folder.File("bom.txt"), [0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i']);

        Assert.Equal("hi", FileText.ReadText(_folder.File("bom.txt"), TenBytes));
    }

    [Fact]
    public void AMissingFile_IsFileNotFound_ForTheCallerToSayWhatWasExpected()
    {
        Assert.Throws<FileNotFoundException>(() => FileText.ReadBytes(_folder.File("none.json"), TenBytes));
    }

    [UnixFact]
    public void DevZero_IsRefusedBeforeAnyByteIsRead()
    {
        var error = Assert.Throws<CheckpointException>(() => FileText.ReadBytes("/dev/zero", FileText.Metadata));

        Assert.Equal("/dev/zero is a character device, not a regular file: Tessera reads and writes only regular files.", error.Message);
    }

    [UnixFact]
    public void AFifo_IsRefusedWithoutWaitingForAWriter()
    {
        string fifo = Fifo("config.json");

        var read = Task.Run(() => FileText.ReadBytes(fifo, FileText.Metadata));

        Assert.True(Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10))).Result == read, "the read blocked on the FIFO");
        var error = Assert.IsType<CheckpointException>(read.Exception!.InnerException);
        Assert.Contains("is a FIFO", error.Message);
    }

    [UnixFact]
    public void ASymbolicLinkToADevice_IsRefusedAsTheDevice()
    {
        File.CreateSymbolicLink(_folder.File("tokenizer.json"), "/dev/urandom");

        var error = Assert.Throws<CheckpointException>(() => FileText.ReadText(_folder.File("tokenizer.json"), FileText.Tokenizer));

        Assert.Contains("is a character device", error.Message);
    }

    [Fact]
    public void AFolder_IsRefusedAsAFolder()
    {
        Directory.CreateDirectory(_folder.File("config.json"));

        var error = Assert.Throws<CheckpointException>(() => FileText.ReadBytes(_folder.File("config.json"), FileText.Metadata));

        Assert.Contains("is a directory", error.Message);
    }

    [Theory]
    [InlineData("""{"bos_token": "\ud800"}""")]
    [InlineData("""{"a": ["x", "\udfffy"]}""")]
    [InlineData("""{"\ud800": 1}""")]
    public void Json_WithALoneSurrogateEscape_IsRefusedWhenRead_NotWhenTheStringIsFirstUsed(string json)
    {
        File.WriteAllText(_folder.File("tokenizer_config.json"), json);

        var error = Assert.Throws<CheckpointException>(() => FileText.ReadJson(_folder.File("tokenizer_config.json"), FileText.Metadata));

        Assert.Contains("tokenizer_config.json: the string at byte", error.Message);
        Assert.Contains("not valid Unicode text", error.Message);
    }

    [Fact]
    public void Json_ThatDoesNotParse_IsOneErrorNamingTheFile()
    {
        File.WriteAllText(_folder.File("messages.json"), "[{\"role\": ");

        Assert.StartsWith(_folder.File("messages.json") + ": not valid JSON: ",
            Assert.Throws<CheckpointException>(() => FileText.ReadJson(_folder.File("messages.json"), FileText.Metadata)).Message);
    }

    [Fact]
    public void AnOutput_ReplacesARegularFileWhole_AndLeavesNoTemporaryFile()
    {
        File.WriteAllText(_folder.File("out.txt"), "old");

        OutputFile.WriteText(_folder.File("out.txt"), "new");

        Assert.Equal("new", File.ReadAllText(_folder.File("out.txt")));
        Assert.Equal(["out.txt"], Directory.GetFiles(_folder.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void AnOutputThatFailsWhileWritten_LeavesTheOldFileAsItWas()
    {
        File.WriteAllText(_folder.File("out.txt"), "old");

        Assert.Throws<InvalidOperationException>(() => OutputFile.Write(_folder.File("out.txt"), stream =>
        {
            stream.Write(Encoding.UTF8.GetBytes("half"));
            throw new InvalidOperationException("the writer failed");
        }));

        Assert.Equal("old", File.ReadAllText(_folder.File("out.txt")));
        Assert.Equal(["out.txt"], Directory.GetFiles(_folder.Path).Select(Path.GetFileName));
    }

    [UnixFact]
    public void AnOutputOverDevNull_IsRefused_AndTheLinkStillNamesTheDevice()
    {
        string link = _folder.File("logits.safetensors");
        File.CreateSymbolicLink(link, "/dev/null");

        var error = Assert.Throws<CheckpointException>(() => OutputFile.WriteText(link, "x"));

        Assert.Contains("is a character device, not a regular file: Tessera writes only to a regular file or a new path", error.Message);
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Throws<CheckpointException>(() => FileText.RequireRegularFile("/dev/null"));
    }

    [UnixFact]
    public void AnOutputOverAFifo_IsRefused_WithoutBlocking()
    {
        string fifo = Fifo("schedule.svg");

        var write = Task.Run(() => OutputFile.WriteText(fifo, "<svg/>"));

        Assert.True(Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(10))).Result == write, "the write blocked on the FIFO");
        Assert.Contains("is a FIFO", Assert.IsType<CheckpointException>(write.Exception!.InnerException).Message);
        Assert.Throws<CheckpointException>(() => FileText.RequireRegularFile(fifo));
    }
}

/// <summary>A fact that needs Unix's special files (mkfifo, /dev/zero): skipped, with the reason, on Windows.</summary>
internal sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows()) Skip = "special files (mkfifo, /dev/zero, /dev/null) are Unix's; Windows has neither";
    }
}
