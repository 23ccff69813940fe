using System.Text;
using System.Text.Json;

namespace Tessera.Checkpoints;

/// <summary>Writes F32 / I32 tensors as a .safetensors file, atomically: a temporary file is renamed into place, so a failure leaves nothing behind.</summary>
public static class SafetensorsWriter
{
    /// <summary>A tensor to write: F32 data (or I32 when <paramref name="Ints"/> is set) and its shape.</summary>
    public sealed record Tensor(string Name, long[] Shape, float[]? Floats = null, int[]? Ints = null);

    public static void Write(string path, IReadOnlyList<Tensor> tensors)
    {
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var t in tensors)
        {
            long bytes = (t.Floats?.LongLength ?? t.Ints!.LongLength) * 4;
            header[t.Name] = new Dictionary<string, object>
            {
                ["dtype"] = t.Floats is not null ? "F32" : "I32",
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        // The data section is 8-byte aligned, as the reference implementation pads the header with spaces.
        int padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        Array.Fill(headerBytes, (byte)' ');
        json.CopyTo(headerBytes, 0);

        OutputFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream);
            writer.Write((long)padded);
            writer.Write(headerBytes);
            foreach (var t in tensors)
            {
                if (t.Floats is not null) foreach (var f in t.Floats) writer.Write(f);
                else foreach (var i in t.Ints!) writer.Write(i);
            }
        });
    }
}
