namespace Tessera.Checkpoints;

/// <summary>
/// A Hugging Face tensor as it sits in a GGUF file: the stored tensor, or a block of its rows (one expert of a stacked
/// [E, out, in] tensor), with the layout differences llama.cpp's converter introduces undone on read.
/// </summary>
/// <param name="Shape">the shape the Hugging Face checkpoint has (what the model expects)</param>
/// <param name="FirstRow">the stored row (of the tensor seen as [rows, Dimensions[0]]) where this tensor's rows start</param>
/// <param name="HeadRows">
/// when set, rows are stored in llama.cpp's interleaved-RoPE order, per head of this many rows: Hugging Face row
/// h·d + s·d/2 + i is stored at h·d + 2i + s (the converter's permute of Llama's q and k)
/// </param>
/// <param name="Transposed">the file holds the transpose of <paramref name="Shape"/> (GPT-2's Conv1D [in, out] weights are stored [out, in])</param>
/// <param name="ValueOffset">added to every value read (Gemma's norms are stored as 1 + w: -1)</param>
internal sealed record GgufTensorView(GgufTensor Tensor, long[] Shape, long FirstRow = 0, int HeadRows = 0, bool Transposed = false, float ValueOffset = 0)
{
    /// <summary>Values per stored row: the stored tensor's fastest dimension.</summary>
    public long StoredColumns => Tensor.Dimensions[0];

    /// <summary>Stored rows this view covers.</summary>
    public long StoredRows => Shape.Aggregate(1L, (a, b) => a * b) / StoredColumns;

    /// <summary>The stored row that holds row <paramref name="row"/> of the view (in the stored orientation).</summary>
    public long StoredRow(long row)
    {
        if (HeadRows == 0) return FirstRow + row;
        long head = row / HeadRows, within = row % HeadRows, half = HeadRows / 2;
        return FirstRow + head * HeadRows + within % half * 2 + within / half;
    }
}
