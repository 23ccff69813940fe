using Tessera.Checkpoints;
using Tessera.Quantization;

namespace Tessera.Models.Tests.Gguf;

/// <summary>
/// `tessera quantize` writes what llama.cpp's llama-quantize writes: the same type for every tensor and the same bytes,
/// against the files llama-quantize made from the same F32 file (Gguf/make-files.sh); so llama.cpp loads them and
/// gives the same logits (checked by hand with llama-cpp-logits.sh: identical), and so does Tessera.
/// </summary>
public sealed class GgufQuantizerTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tessera-quantized-{Guid.NewGuid():N}.gguf");

    public void Dispose() => File.Delete(_path);

    [Theory]
    [InlineData("tiny-llama", GgufFileType.Q8_0)]
    [InlineData("tiny-llama", GgufFileType.Q4_0)]
    [InlineData("tiny-qwen3", GgufFileType.Q4_0)]
    [InlineData("tiny-mixtral", GgufFileType.Q8_0)]
    public void QuantizingAnF32File_WritesLlamaQuantizesTypesAndBytes(string model, GgufFileType type)
    {
        GgufQuantizer.Quantize(GgufFiles.Path(model + "-f32"), _path, type);

        using var ours = GgufFile.Open(_path);
        using var theirs = GgufFile.Open(GgufFiles.Path($"{model}-{type}"));
        Assert.Equal(theirs.Tensors.Keys.Order(), ours.Tensors.Keys.Order());
        foreach (var expected in theirs.Tensors.Values)
        {
            var actual = ours.Tensors[expected.Name];
            Assert.True(expected.Type == actual.Type, $"{expected.Name}: {GgmlTypes.Name(actual.Type)}, llama-quantize {GgmlTypes.Name(expected.Type)}");
            Assert.True(theirs.Bytes(expected).SequenceEqual(ours.Bytes(actual)), $"{expected.Name}: the bytes differ");
        }
        // The metadata keeps its values and their written types (llama.cpp checks them), the file type set.
        Assert.Equal((long)type, ours.Metadata["general.file_type"]);
        foreach (var (key, written) in theirs.MetadataTypes)
        {
            Assert.True(ours.MetadataTypes.TryGetValue(key, out var kept) && kept == written, $"{key}: written as {kept}, llama-quantize {written}");
            Assert.Equal(theirs.Metadata[key], ours.Metadata[key]);
        }
    }

    [Fact]
    public void AQuantizedFile_RunsAsTheFileLlamaQuantizeWrote()
    {
        GgufQuantizer.Quantize(GgufFiles.Path("tiny-llama-f32"), _path, GgufFileType.Q4_0);
        var ours = EngineCatalog.Open(_path);
        var theirs = EngineCatalog.Open(GgufFiles.Path("tiny-llama-Q4_0"));

        Assert.Equal(theirs.Forward(TokenBatch.ForSequence(theirs.CreateCache(), GgufFiles.Tokens)),
            ours.Forward(TokenBatch.ForSequence(ours.CreateCache(), GgufFiles.Tokens)));
    }

    /// <summary>Q4_K_M: Q4_K, with Q6_K for the output and for attn_v and ffn_down in the layers llama.cpp gives more bits.</summary>
    [Fact]
    public void TheQ4_K_MChoiceOfTypes_IsLlamaQuantizes()
    {
        using var theirs = GgufFile.Open(GgufFiles.Path("wide-llama-Q4_K_M"));
        foreach (var tensor in theirs.Tensors.Values)
        {
            // As the F32 file it was made from held it.
            var unquantized = tensor with { Type = GgmlType.F32 };
            Assert.Equal(tensor.Type, GgufQuantizer.TypeFor(unquantized, GgufFileType.Q4_K_M, hasOutput: true, layers: 2));
        }
    }
}
