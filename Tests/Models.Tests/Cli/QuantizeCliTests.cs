using Tessera.Models.Tests.Gguf;

namespace Tessera.Models.Tests.Cli;

/// <summary>`tessera quantize`: a GGUF file in, a quantized one out; anything else one error line, nothing written.</summary>
[Collection(CliCollection.Name)]
public sealed class QuantizeCliTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), $"tessera-cli-{Guid.NewGuid():N}.gguf");

    public void Dispose() => File.Delete(_out);

    [Fact]
    public void QuantizingAGgufFile_WritesItAndSaysSo()
    {
        var result = TesseraCli.Run("quantize", "--checkpoint", GgufFiles.Path("tiny-qwen3-f32"), "--type", "Q8_0", "--out", _out);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith($"wrote {_out} (Q8_0", result.Out);
        Assert.Equal(new FileInfo(GgufFiles.Path("tiny-qwen3-Q8_0")).Length, new FileInfo(_out).Length);
    }

    [Fact]
    public void AFolder_IsRefusedWithOneErrorLine_AndNothingIsWritten()
    {
        var result = TesseraCli.Run("quantize", "--checkpoint", Fixtures.Directory(Fixtures.TinyLlama), "--type", "Q4_0", "--out", _out);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Error);
        Assert.Contains("quantize takes a GGUF file", result.Error);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.False(File.Exists(_out));
    }

    [Fact]
    public void ACorruptInput_IsOneErrorLine_AndNothingIsWritten()
    {
        string bad = _out + ".in";
        File.WriteAllBytes(bad, "GGUF\u0003\u0000\u0000\u0000"u8.ToArray());
        try
        {
            var result = TesseraCli.Run("quantize", "--checkpoint", bad, "--type", "Q4_0", "--out", _out);
            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("error: ", result.Error);
            Assert.Single(result.Error.Trim().Split('\n'));
            Assert.False(File.Exists(_out));
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
