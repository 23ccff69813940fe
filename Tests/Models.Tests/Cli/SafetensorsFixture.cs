using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Tessera.Runtime.Tests.Checkpoints;

namespace Tessera.Models.Tests.Cli;

/// <summary>One tensor of a .safetensors file as stored: name, dtype string, shape and raw little-endian bytes.</summary>
internal sealed record RawTensor(string Name, string DType, long[] Shape, byte[] Data)
{
    public float[] Floats()
    {
        Assert.Equal("F32", DType);
        var values = new float[Data.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(i * 4));
        return values;
    }

    public int[] Ints()
    {
        Assert.Equal("I32", DType);
        var values = new int[Data.Length / 4];
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt32LittleEndian(Data.AsSpan(i * 4));
        return values;
    }
}

/// <summary>
/// A minimal, independent safetensors reader and writer for the CLI tests: reads every tensor of a file as raw bytes
/// and writes a list of them back, so a test can copy a checkpoint and drop, reshape or retype one tensor.
/// </summary>
internal static class SafetensorsFixture
{
    public static List<RawTensor> Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(file);
        int dataStart = checked(8 + (int)headerLength);
        using var doc = JsonDocument.Parse(file.AsMemory(8, (int)headerLength));
        var tensors = new List<RawTensor>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__") continue;
            string dtype = p.Value.GetProperty("dtype").GetString()!;
            long[] shape = p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            long[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            tensors.Add(new RawTensor(p.Name, dtype, shape, file[(dataStart + (int)offsets[0])..(dataStart + (int)offsets[1])]));
        }
        return tensors;
    }

    public static RawTensor Tensor(string path, string name) =>
        Read(path).SingleOrDefault(t => t.Name == name) ?? throw new InvalidOperationException($"{path} has no tensor \"{name}\".");

    /// <summary>Writes <paramref name="tensors"/> in order, the header padded with spaces to 8 bytes as the reference writer does.</summary>
    public static void Write(string path, IEnumerable<RawTensor> tensors)
    {
        var (header, data) = SafetensorsWriter.Header(tensors.Select(t => new TensorBytes(t.Name, t.DType, t.Shape, t.Data)).ToArray());
        var bytes = Encoding.UTF8.GetBytes(header);
        var padded = new byte[(bytes.Length + 7) / 8 * 8];
        Array.Fill(padded, (byte)' ');
        bytes.CopyTo(padded, 0);
        SafetensorsWriter.WriteRaw(path, padded, data);
    }

    /// <summary>Rewrites a file with <paramref name="edit"/> applied to its tensor list.</summary>
    public static void Rewrite(string path, Func<List<RawTensor>, IEnumerable<RawTensor>> edit) => Write(path, edit(Read(path)).ToList());

    /// <summary>Overwrites the first bytes of a file (its header length and header) with <paramref name="bytes"/>.</summary>
    public static void Patch(string path, long offset, byte[] bytes)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
        file.Position = offset;
        file.Write(bytes);
    }

    public static byte[] Int64(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }

    public static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);
}
