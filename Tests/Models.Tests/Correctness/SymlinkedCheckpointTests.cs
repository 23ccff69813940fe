namespace Tessera.Models.Tests.Correctness;

/// <summary>
/// A checkpoint whose files are symbolic links, as a Hugging Face cache's snapshot folder holds them (each a link to a
/// blob), loads as the files themselves do: the same logits, from safetensors and from GGUF.
/// </summary>
public sealed class SymlinkedCheckpointTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"tessera-links-{Guid.NewGuid():N}");

    public SymlinkedCheckpointTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static float[] Logits(string checkpoint)
    {
        var engine = EngineCatalog.Open(checkpoint);
        using var owner = engine as IDisposable;
        return engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), [1, 2, 3], lastLogitsOnly: true));
    }

    [Fact]
    public void AFolderOfLinks_GivesTheLogitsOfItsTargets()
    {
        string source = Fixtures.Directory(Fixtures.TinyLlama);
        foreach (string file in Directory.EnumerateFiles(source))
            File.CreateSymbolicLink(Path.Combine(_folder, Path.GetFileName(file)), file);

        Assert.Equal(Logits(source), Logits(_folder));
    }

    [Fact]
    public void ALinkToAGgufFile_GivesTheLogitsOfTheFile()
    {
        string file = Gguf.GgufFiles.Path("tiny-llama-Q8_0");
        string link = Path.Combine(_folder, "model.gguf");
        File.CreateSymbolicLink(link, file);

        Assert.Equal(Logits(file), Logits(link));
    }
}
