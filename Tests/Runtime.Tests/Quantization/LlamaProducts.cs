using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Quantization;

/// <summary>
/// data/llama_dot_{type}.bin from make_reference.py: (Rows, Columns) weights, (XRows, Columns) x, and the (XRows, Rows)
/// products llama.cpp's CPU back end computes from them (x rounded to Q8_0 or Q8_K blocks, then ggml_vec_dot).
/// </summary>
internal sealed record LlamaProducts(GgmlType Type, int Rows, int Columns, int XRows, byte[] Weights, float[] X, float[] Products)
{
    public static LlamaProducts Read(GgmlType type)
    {
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(ReferenceData.Folder, $"llama_dot_{GgmlTypes.Name(type).ToLowerInvariant()}.bin")));
        var stored = (GgmlType)reader.ReadUInt32();
        int rows = reader.ReadInt32(), columns = reader.ReadInt32(), xRows = reader.ReadInt32();
        var weights = reader.ReadBytes(checked((int)(rows * GgmlTypes.RowBytes(stored, columns))));
        var x = Floats(reader, xRows * columns);
        var products = Floats(reader, xRows * rows);
        Assert.Equal(reader.BaseStream.Length, reader.BaseStream.Position);
        return new LlamaProducts(stored, rows, columns, xRows, weights, x, products);
    }

    private static float[] Floats(BinaryReader reader, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = reader.ReadSingle();
        return values;
    }
}
