using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>A GGUF file's tensors under their Hugging Face names (<see cref="GgufLayout"/>), read as the model expects them.</summary>
internal sealed class GgufSource : ITensorSource
{
    private readonly GgufFile _file;
    private readonly IReadOnlyDictionary<string, GgufTensorView> _views;

    public GgufSource(GgufFile file, IReadOnlyDictionary<string, GgufTensorView> views)
    {
        _file = file;
        _views = views;
        foreach (var (name, view) in views)
        {
            long columns = view.Transposed ? view.Shape[0] : view.Shape[^1];
            if (columns != view.StoredColumns || view.FirstRow + view.StoredRows > view.Tensor.Bytes / GgmlTypes.RowBytes(view.Tensor.Type, view.StoredColumns)
                || (view.HeadRows != 0 && (view.HeadRows % 2 != 0 || view.StoredRows % view.HeadRows != 0)))
                throw new CheckpointException(
                    $"{file.Path}: tensor {FileText.Quoted(view.Tensor.Name)} {view.Tensor.ShapeText} cannot hold {FileText.Quoted(name)} {Shape(view.Shape)}: the file's sizes disagree with its metadata.");
        }
    }

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    public string Describe => Path.GetFileName(_file.Path);

    public IEnumerable<string> Names => _views.Keys;

    public bool Contains(string name) => _views.ContainsKey(name);

    public TensorInfo Info(string name)
    {
        var view = _views[name];
        return new TensorInfo(name, GgmlTypes.Name(view.Tensor.Type), view.Shape, _file.Path, GgmlTypes.CanDequantize(view.Tensor.Type));
    }

    public void ReadF32(string name, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination)
    {
        var view = _views[name];
        if (view.Shape.Length > 2) throw new InvalidOperationException($"{name} is not a matrix or a vector.");
        CheckBlock(name, view, rowStart, rowCount, colStart, colCount);
        if (destination.Length < rowCount * colCount)
            throw new ArgumentException($"The destination holds {destination.Length} floats, fewer than the {rowCount * colCount} read.", nameof(destination));
        var type = CheckedType(view, name);
        var row = new float[view.StoredColumns];
        long rowBytes = GgmlTypes.RowBytes(type, view.StoredColumns);
        if (!view.Transposed)
        {
            for (long r = 0; r < rowCount; r++)
            {
                Dequantize.Row(type, _file.Bytes(view.Tensor, view.StoredRow(rowStart + r) * rowBytes, rowBytes), row);
                var dst = destination.Slice((int)(r * colCount), (int)colCount);
                row.AsSpan((int)colStart, (int)colCount).CopyTo(dst);
                if (view.ValueOffset != 0) System.Numerics.Tensors.TensorPrimitives.Add(dst, view.ValueOffset, dst);
            }
            return;
        }
        // Stored as the transpose: the model's column c is stored row c.
        for (long c = 0; c < colCount; c++)
        {
            Dequantize.Row(type, _file.Bytes(view.Tensor, view.StoredRow(colStart + c) * rowBytes, rowBytes), row);
            for (long r = 0; r < rowCount; r++) destination[(int)(r * colCount + c)] = row[rowStart + r] + view.ValueOffset;
        }
    }

    public QuantizedRows? ReadQuantized(string name, long rowStart, long rowCount, long colStart, long colCount)
    {
        var view = _views[name];
        var type = CheckedType(view, name);
        int block = GgmlTypes.BlockElements(type);
        // F16 matrices stay F16 too (llama.cpp multiplies them with F16 activations); F32 and BF16 load as F32.
        if ((block == 1 && type != GgmlType.F16) || view.Transposed || view.ValueOffset != 0 || view.Shape.Length != 2)
            return null;
        // A slice that cuts blocks cannot be held as stored, and its product could not round x in the blocks one
        // device rounds it in (a Q8_K block's scale is the largest of 256 values, which two ranks would each see half of).
        if (colStart % block != 0 || colCount % block != 0)
            throw new CheckpointException(
                $"{_file.Path}: tensor {FileText.Quoted(view.Tensor.Name)} ({GgmlTypes.Name(type)}) has rows of {view.StoredColumns} values in blocks of {block}, and this plan gives a rank columns [{colStart}, {colStart + colCount}), which cut them: "
                + "choose a tensor degree that splits its rows on whole blocks, or hold the weights as F32 (--weights F32).");
        CheckBlock(name, view, rowStart, rowCount, colStart, colCount);
        long storedRowBytes = GgmlTypes.RowBytes(type, view.StoredColumns);
        long sliceBytes = GgmlTypes.RowBytes(type, colCount), sliceStart = GgmlTypes.RowBytes(type, colStart);
        var data = new byte[rowCount * sliceBytes];
        for (long r = 0; r < rowCount; r++)
            _file.Bytes(view.Tensor, view.StoredRow(rowStart + r) * storedRowBytes + sliceStart, sliceBytes).CopyTo(data.AsSpan((int)(r * sliceBytes), (int)sliceBytes));
        return new QuantizedRows(type, (int)rowCount, (int)colCount, data);
    }

    /// <summary>Reads go through a pointer into the mapping: a block outside the tensor (a caller's bug) is refused here.</summary>
    private void CheckBlock(string name, GgufTensorView view, long rowStart, long rowCount, long colStart, long colCount)
    {
        long rows = view.Shape.Length == 1 ? 1 : view.Shape[0], cols = view.Shape[^1];
        if (rowStart < 0 || rowCount < 0 || rowStart > rows - rowCount || colStart < 0 || colCount < 0 || colStart > cols - colCount)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"{_file.Path}: rows [{rowStart}, {rowStart + rowCount}) x columns [{colStart}, {colStart + colCount}) are outside {FileText.Quoted(name)} {Shape(view.Shape)}.");
    }

    private GgmlType CheckedType(GgufTensorView view, string name) =>
        GgmlTypes.CanDequantize(view.Tensor.Type) ? view.Tensor.Type
            : throw new CheckpointException($"{_file.Path}: tensor {FileText.Quoted(view.Tensor.Name)} (for {FileText.Quoted(name)}) is {GgmlTypes.Name(view.Tensor.Type)}, a type Tessera cannot read yet.");

    public void Dispose() => _file.Dispose();
}
