using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Tessera.Runtime.Tests.Checkpoints;

/// <summary>One tensor to write: its name, dtype string, shape and raw little-endian bytes.</summary>
internal sealed record TensorBytes(string Name, string DType, long[] Shape, byte[] Data)
{
    public static TensorBytes F32(string name, long[] shape, float[] values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return new(name, "F32", shape, data);
    }

    public static TensorBytes F16(string name, long[] shape, float[] values)
    {
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(i * 2), (Half)values[i]);
        return new(name, "F16", shape, data);
    }

    /// <summary>BF16 by truncation: the upper 16 bits of each F32.</summary>
    public static TensorBytes BF16(string name, long[] shape, float[] values)
    {
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16));
        return new(name, "BF16", shape, data);
    }

    public static TensorBytes I32(string name, long[] shape, int[] values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(i * 4), values[i]);
        return new(name, "I32", shape, data);
    }
}

/// <summary>
/// Writes small .safetensors files for tests: an 8-byte little-endian header length, the JSON header, then the data.
/// <see cref="Header"/> and <see cref="WriteRaw"/> let a test corrupt any part on purpose.
/// </summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, params TensorBytes[] tensors)
    {
        var (header, data) = Header(tensors);
        WriteRaw(path, Encoding.UTF8.GetBytes(header), data);
    }

    /// <summary>The header JSON and the concatenated data of <paramref name="tensors"/>, offsets in order.</summary>
    public static (string Header, byte[] Data) Header(params TensorBytes[] tensors)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("__metadata__");
            writer.WriteString("format", "pt");
            writer.WriteEndObject();
            long offset = 0;
            foreach (var t in tensors)
            {
                writer.WriteStartObject(t.Name);
                writer.WriteString("dtype", t.DType);
                writer.WriteStartArray("shape");
                foreach (long d in t.Shape) writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(offset + t.Data.Length);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset += t.Data.Length;
            }
            writer.WriteEndObject();
        }
        return (Encoding.UTF8.GetString(json.ToArray()), tensors.SelectMany(t => t.Data).ToArray());
    }

    /// <summary>Writes <paramref name="header"/> and <paramref name="data"/>, with a header length field of <paramref name="declaredHeaderLength"/> (default: the true one).</summary>
    public static void WriteRaw(string path, byte[] header, byte[] data, long? declaredHeaderLength = null)
    {
        using var file = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, declaredHeaderLength ?? header.Length);
        file.Write(length);
        file.Write(header);
        file.Write(data);
    }
}

/// <summary>A temporary folder deleted on dispose; tests build checkpoints in it.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tessera-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
