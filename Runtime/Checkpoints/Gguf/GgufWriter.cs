using System.Text;
using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>
/// Writes a GGUF (version 3) file: metadata, then tensor descriptions, then each tensor's bytes at an offset aligned to
/// general.alignment (32). The layout llama.cpp's gguf writer produces, so llama.cpp loads what this writes.
/// </summary>
public static class GgufWriter
{
    private const int Alignment = 32;

    /// <summary>
    /// A metadata value written with a given gguf_type (and element type, for an array), as a file read back holds
    /// it: <see cref="GgufFile.Metadata"/>'s long, double, bool, string or array of them.
    /// </summary>
    public sealed record Typed(object Value, uint Type, uint ElementType = 0);

    /// <summary>A tensor to write: its ggml dimensions (fastest first) and its bytes in that type.</summary>
    public sealed record Tensor(string Name, GgmlType Type, long[] Dimensions, byte[] Data);

    /// <summary>
    /// Writes the file. Metadata values: string, bool, int (written as INT32), uint (UINT32), long (INT64), float
    /// (FLOAT32), double (FLOAT64), or arrays of string, int, float, bool.
    /// </summary>
    public static void Write(string path, IReadOnlyList<KeyValuePair<string, object>> metadata, IReadOnlyList<Tensor> tensors) =>
        OutputFile.Write(path, stream => Write(stream, metadata, tensors));

    private static void Write(Stream stream, IReadOnlyList<KeyValuePair<string, object>> metadata, IReadOnlyList<Tensor> tensors)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8);
        w.Write(0x46554747u); // "GGUF"
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(w, key);
            WriteValue(w, value);
        }
        long offset = 0;
        var offsets = new long[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            long expected = GgmlTypes.RowBytes(t.Type, t.Dimensions[0]) * t.Dimensions.Skip(1).Aggregate(1L, (a, b) => a * b);
            if (t.Data.LongLength != expected)
                throw new ArgumentException($"Tensor {t.Name}: {t.Data.LongLength} bytes for {GgmlTypes.Name(t.Type)} [{string.Join(", ", t.Dimensions)}], which needs {expected}.");
            WriteString(w, t.Name);
            w.Write((uint)t.Dimensions.Length);
            foreach (long d in t.Dimensions) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offsets[i] = offset;
            offset += Padded(t.Data.LongLength);
        }
        Pad(w);
        foreach (var t in tensors)
        {
            w.Write(t.Data);
            Pad(w);
        }
    }

    private static long Padded(long bytes) => (bytes + Alignment - 1) / Alignment * Alignment;

    private static void Pad(BinaryWriter w)
    {
        long at = w.BaseStream.Position;
        for (long i = at; i < Padded(at); i++) w.Write((byte)0);
    }

    /// <summary>One value of gguf_type <paramref name="type"/>, from a long, double, bool or string.</summary>
    private static void WriteScalar(BinaryWriter w, uint type, object value)
    {
        switch (type)
        {
            case 0: w.Write((byte)Convert.ToInt64(value)); break;
            case 1: w.Write((sbyte)Convert.ToInt64(value)); break;
            case 2: w.Write((ushort)Convert.ToInt64(value)); break;
            case 3: w.Write((short)Convert.ToInt64(value)); break;
            case 4: w.Write((uint)Convert.ToInt64(value)); break;
            case 5: w.Write((int)Convert.ToInt64(value)); break;
            case 6: w.Write((float)Convert.ToDouble(value)); break;
            case 7: w.Write((bool)value); break;
            case 8: WriteString(w, (string)value); break;
            case 10: w.Write((ulong)Convert.ToInt64(value)); break;
            case 11: w.Write(Convert.ToInt64(value)); break;
            case 12: w.Write(Convert.ToDouble(value)); break;
            default: throw new ArgumentException($"gguf_type {type} is not a scalar type.", nameof(type));
        }
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, object value)
    {
        switch (value)
        {
            case Typed typed:
                w.Write(typed.Type);
                if (typed.Type != 9)
                {
                    WriteScalar(w, typed.Type, typed.Value);
                    break;
                }
                var items = (Array)typed.Value;
                w.Write(typed.ElementType);
                w.Write((ulong)items.Length);
                foreach (var item in items) WriteScalar(w, typed.ElementType, item!);
                break;
            case string s: w.Write(8u); WriteString(w, s); break;
            case bool b: w.Write(7u); w.Write(b); break;
            case int i: w.Write(5u); w.Write(i); break;
            case uint u: w.Write(4u); w.Write(u); break;
            case long l: w.Write(11u); w.Write(l); break;
            case float f: w.Write(6u); w.Write(f); break;
            case double d: w.Write(12u); w.Write(d); break;
            case string[] strings: w.Write(9u); w.Write(8u); w.Write((ulong)strings.Length); foreach (var s in strings) WriteString(w, s); break;
            case int[] ints: w.Write(9u); w.Write(5u); w.Write((ulong)ints.Length); foreach (var i in ints) w.Write(i); break;
            case float[] floats: w.Write(9u); w.Write(6u); w.Write((ulong)floats.Length); foreach (var f in floats) w.Write(f); break;
            case bool[] flags: w.Write(9u); w.Write(7u); w.Write((ulong)flags.Length); foreach (var b in flags) w.Write(b); break;
            default: throw new ArgumentException($"GGUF metadata cannot hold a {value.GetType().Name}.", nameof(value));
        }
    }
}
