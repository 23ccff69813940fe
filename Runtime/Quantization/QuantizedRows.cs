namespace Tessera.Quantization;

/// <summary>
/// A matrix of <see cref="Rows"/> rows of <see cref="Columns"/> values, each row stored as ggml blocks of
/// <see cref="Type"/> (<see cref="RowBytes"/> bytes a row, rows back to back): weights held as the file stores them.
/// </summary>
public sealed class QuantizedRows
{
    public QuantizedRows(GgmlType type, int rows, int columns, byte[] data)
    {
        long rowBytes = GgmlTypes.RowBytes(type, columns);
        if (rows < 0 || data.LongLength != rows * rowBytes)
            throw new ArgumentException($"{rows} rows of {columns} {GgmlTypes.Name(type)} values take {rows * rowBytes} bytes, not {data.LongLength}.", nameof(data));
        Type = type;
        Rows = rows;
        Columns = columns;
        RowBytes = rowBytes;
        Data = data;
    }

    public GgmlType Type { get; }

    public int Rows { get; }

    public int Columns { get; }

    public long RowBytes { get; }

    public byte[] Data { get; }

    /// <summary>Row <paramref name="row"/>'s blocks.</summary>
    public ReadOnlySpan<byte> Row(int row) => Data.AsSpan((int)(row * RowBytes), (int)RowBytes);

    /// <summary>The rows as F32 (for back ends and paths that multiply F32).</summary>
    public float[] ToF32()
    {
        var result = new float[(long)Rows * Columns];
        for (int r = 0; r < Rows; r++) Dequantize.Row(Type, Row(r), result.AsSpan(r * Columns, Columns));
        return result;
    }
}
