using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>One tensor of a checkpoint, as the model sees it (a Hugging Face name and shape), and where it is stored.</summary>
/// <param name="DType">the stored type as its format spells it ("BF16", "Q4_K")</param>
/// <param name="Shape">the shape the model expects, row-major ([out, in] for most matrices)</param>
/// <param name="File">the file that holds it, for messages</param>
/// <param name="Readable">whether it can be read as numbers (a floating-point or block-quantized type, not an integer one)</param>
public sealed record TensorInfo(string Name, string DType, long[] Shape, string File, bool Readable)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// Where a checkpoint's tensors come from: safetensors files (a Hugging Face folder) or one GGUF file. Reads are by
/// Hugging Face name and in the Hugging Face layout, whatever the file does differently.
/// </summary>
internal interface ITensorSource : IDisposable
{
    /// <summary>The files, for a message about a tensor none of them has.</summary>
    string Describe { get; }

    IEnumerable<string> Names { get; }

    bool Contains(string name);

    TensorInfo Info(string name);

    /// <summary>
    /// Rows [rowStart, rowStart + rowCount) and columns [colStart, colStart + colCount) of a 2-D tensor (or elements of a
    /// 1-D one, as one row) as F32.
    /// </summary>
    void ReadF32(string name, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination);

    /// <summary>
    /// The same block of a block-quantized (or F16) tensor as stored (<see cref="QuantizedRows"/>), or null when the tensor is
    /// not quantized or the block does not fall on whole blocks of its rows.
    /// </summary>
    QuantizedRows? ReadQuantized(string name, long rowStart, long rowCount, long colStart, long colCount);
}
