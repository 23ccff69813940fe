using Tessera.Checkpoints;
using Tessera.Models.Tests.Cli;

namespace Tessera.Models.Tests.Gguf;

/// <summary>
/// A GGUF file whose blocks hold a scale that is not finite (an F16 infinity or NaN in a Q8_0 block's d, a Q4_K block's
/// dmin) is refused at load as F32 weights are, naming the tensor and the first value it spoils (its sign that of the
/// quantized value the scale multiplies): one error line.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class GgufNonFiniteWeightTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"tessera-gguf-nan-{Guid.NewGuid():N}");

    public GgufNonFiniteWeightTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData("tiny-llama-Q8_0", "blk.0.attn_q.weight", 0, 0x7C00, "Inf at [")]
    [InlineData("tiny-llama-Q8_0", "blk.1.ffn_down.weight", 3 * 34, 0x7E00, "NaN at [")]
    [InlineData("wide-llama-Q4_K_M", "blk.0.ffn_gate.weight", 2, 0xFC00, "Inf at [")]
    public void ANonFiniteBlockScale_IsOneErrorLine_NamingTheTensor(string name, string tensor, int byteInTensor, int halfBits, string value)
    {
        string path = Path.Combine(_folder, name + ".gguf");
        File.Copy(GgufFiles.Path(name), path);
        long at;
        using (var file = GgufFile.Open(path)) at = file.DataStart + file.Tensors[tensor].Offset + byteInTensor;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = at;
            stream.Write(BitConverter.GetBytes((ushort)halfBits));
        }

        var result = TesseraCli.Run("logits", "--checkpoint", path, "--tokens", "1,2,3", "--out", Path.Combine(_folder, "logits.safetensors"));

        TesseraCli.AssertFailsWith(result, value, "every weight must be a finite number");
    }
}
