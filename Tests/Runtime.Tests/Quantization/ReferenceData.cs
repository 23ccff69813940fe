using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// The reference files make_reference.py wrote from gguf-py and ggml (data/*.bin, little-endian): a header of type,
/// rows and columns, then blocks and values in the order the file's kind says.
/// </summary>
internal sealed record ReferenceData(GgmlType Type, int Rows, int Columns, byte[] Blocks, float[] Values)
{
    public long RowBytes => GgmlTypes.RowBytes(Type, Columns);

    public ReadOnlySpan<byte> BlockRow(int row) => Blocks.AsSpan((int)(row * RowBytes), (int)RowBytes);

    public ReadOnlySpan<float> ValueRow(int row) => Values.AsSpan(row * Columns, Columns);

    /// <summary>data/dequantize_{type}.bin: blocks, then the values gguf-py dequantized them to.</summary>
    public static ReferenceData Dequantized(GgmlType type) => Read($"dequantize_{GgmlTypes.Name(type).ToLowerInvariant()}.bin", blocksFirst: true);

    /// <summary>data/quantize_{type}.bin: values, then the blocks ggml quantized them to.</summary>
    public static ReferenceData Quantized(GgmlType type) => Read($"quantize_{GgmlTypes.Name(type).ToLowerInvariant()}.bin", blocksFirst: false);

    private static ReferenceData Read(string name, bool blocksFirst)
    {
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(Folder, name)));
        var type = (GgmlType)reader.ReadUInt32();
        int rows = reader.ReadInt32(), columns = reader.ReadInt32();
        int blockBytes = checked((int)(rows * GgmlTypes.RowBytes(type, columns)));
        byte[] blocks = blocksFirst ? reader.ReadBytes(blockBytes) : [];
        var values = new float[rows * columns];
        for (int i = 0; i < values.Length; i++) values[i] = reader.ReadSingle();
        if (!blocksFirst) blocks = reader.ReadBytes(blockBytes);
        Assert.Equal(blockBytes, blocks.Length);
        Assert.Equal(reader.BaseStream.Length, reader.BaseStream.Position);
        return new ReferenceData(type, rows, columns, blocks, values);
    }

    /// <summary>Tests/Runtime.Tests/Quantization/data, found above the test binaries (the files are not copied there).</summary>
    internal static string Folder
    {
        get
        {
            for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            {
                string candidate = Path.Combine(directory.FullName, "Tests", "Runtime.Tests", "Quantization", "data");
                if (Directory.Exists(candidate)) return candidate;
            }
            throw new DirectoryNotFoundException("Tests/Runtime.Tests/Quantization/data not found above " + AppContext.BaseDirectory);
        }
    }
}
