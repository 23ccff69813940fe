using System.IO.MemoryMappedFiles;
using System.Text;
using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>One tensor of a GGUF file, as its header describes it.</summary>
/// <param name="Dimensions">ggml's order: Dimensions[0] is the fastest-varying (a matrix's columns, its input features)</param>
/// <param name="Offset">bytes from the start of the data section</param>
public sealed record GgufTensor(string Name, GgmlType Type, long[] Dimensions, long Offset, long Bytes)
{
    /// <summary>The shape as row-major frameworks write it (slowest dimension first): [rows, columns] for a matrix.</summary>
    public long[] Shape => Dimensions.Reverse().ToArray();

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A memory-mapped GGUF file (llama.cpp's format, versions 2 and 3): a header of typed key/value metadata and tensor
/// descriptions, then the tensors' data, each at an aligned offset. Everything in the header is checked when the
/// file is opened — lengths and counts against the bytes the file has, tensor sizes against their types and shapes,
/// every tensor inside the data section and none overlapping another — so a hostile or truncated file is one error,
/// not an allocation of what a length field claims or a read outside the mapping.
/// </summary>
public sealed class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    private const uint Magic = 0x46554747;

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    private const int MaxDimensions = 4;

    private const uint DefaultAlignment = 32;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly unsafe byte* _base;

    private unsafe GgufFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        Length = length;
    }

    public string Path { get; }

    /// <summary>The file's size in bytes.</summary>
    public long Length { get; }

    public uint Version { get; private set; }

    /// <summary>The metadata: string, bool, long (every integer type), double (F32, F64) or an array of one of them (string[], long[], double[], bool[]).</summary>
    public IReadOnlyDictionary<string, object> Metadata { get; private set; } = null!;

    /// <summary>
    /// Each metadata value's type as written (gguf_type: 4 UINT32, 6 FLOAT32, 8 STRING, 9 ARRAY ...) and, for an array,
    /// its elements' type: what a writer keeps so that llama.cpp, which checks them, reads the values back.
    /// </summary>
    public IReadOnlyDictionary<string, (uint Type, uint ElementType)> MetadataTypes { get; private set; } = null!;

    public IReadOnlyDictionary<string, GgufTensor> Tensors { get; private set; } = null!;

    /// <summary>Where the data section starts, in bytes from the start of the file.</summary>
    public long DataStart { get; private set; }

    public static unsafe GgufFile Open(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: file not found.");
        FileText.RequireRegularFile(path);
        long length = FileText.LengthOf(path);
        if (length < 24)
            throw new CheckpointException($"{path}: not a GGUF file: it has {length} bytes, fewer than a GGUF header's 24.");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* basePointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        var file = new GgufFile(path, map, view, basePointer + view.PointerOffset, length);
        try
        {
            file.ReadHeader();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The bytes of a tensor, or of <paramref name="count"/> bytes of it from <paramref name="start"/>.</summary>
    public unsafe ReadOnlySpan<byte> Bytes(GgufTensor tensor, long start = 0, long count = -1)
    {
        if (count < 0) count = tensor.Bytes - start;
        if (start < 0 || count < 0 || start > tensor.Bytes - count || count > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Path}: bytes [{start}, {start + count}) of tensor {FileText.Quoted(tensor.Name)} are outside its {tensor.Bytes}.");
        return new ReadOnlySpan<byte>(_base + DataStart + tensor.Offset + start, (int)count);
    }

    private void ReadHeader()
    {
        var reader = new HeaderReader(this);
        if (reader.UInt32() != Magic) throw Corrupt("it does not start with \"GGUF\"", prefix: "not a GGUF file");
        Version = reader.UInt32();
        if (Version is not (2 or 3))
            throw new CheckpointException($"{Path}: GGUF version {Version} is not supported (versions 2 and 3 are).");
        long tensorCount = reader.Count("tensor count", minimumBytesEach: 24);
        long metadataCount = reader.Count("metadata count", minimumBytesEach: 12);

        var metadata = new Dictionary<string, object>(StringComparer.Ordinal);
        var types = new Dictionary<string, (uint, uint)>(StringComparer.Ordinal);
        for (long i = 0; i < metadataCount; i++)
        {
            string key = reader.String("a metadata key");
            var value = reader.Value(key, out var type);
            if (!metadata.TryAdd(key, value)) throw Corrupt($"the metadata key {FileText.Quoted(key)} appears twice");
            types[key] = type;
        }
        Metadata = metadata;
        MetadataTypes = types;

        long alignment = DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var a))
        {
            if (a is not long al || al <= 0 || al > 1 << 20 || (al & (al - 1)) != 0)
                throw Corrupt($"general.alignment is {Shown(a)}, not a power of two");
            alignment = al;
        }

        var tensors = new Dictionary<string, GgufTensor>(StringComparer.Ordinal);
        for (long i = 0; i < tensorCount; i++)
        {
            string name = reader.String("a tensor name");
            uint dimensionCount = reader.UInt32();
            if (dimensionCount is 0 or > MaxDimensions)
                throw Corrupt($"tensor {FileText.Quoted(name)} has {dimensionCount} dimensions (1 to {MaxDimensions} are allowed)");
            var dimensions = new long[dimensionCount];
            for (int d = 0; d < dimensions.Length; d++)
            {
                ulong size = reader.UInt64();
                if (size == 0 || size > long.MaxValue / 2) throw Corrupt($"tensor {FileText.Quoted(name)} has dimension {d} of {size}");
                dimensions[d] = (long)size;
            }
            var type = (GgmlType)reader.UInt32();
            long offset = (long)Math.Min(reader.UInt64(), long.MaxValue);
            long bytes = TensorBytes(name, type, dimensions);
            if (offset % alignment != 0) throw Corrupt($"tensor {FileText.Quoted(name)} starts at offset {offset}, which is not a multiple of the alignment {alignment}");
            if (!tensors.TryAdd(name, new GgufTensor(name, type, dimensions, offset, bytes)))
                throw Corrupt($"the tensor name {FileText.Quoted(name)} appears twice");
        }
        DataStart = (reader.Position + alignment - 1) / alignment * alignment;
        long dataBytes = Length - DataStart;
        if (dataBytes < 0 && tensors.Count > 0) throw Corrupt("the file ends before its data section");
        CheckTensorsFitApart(tensors.Values, Math.Max(0, dataBytes));
        Tensors = tensors;
    }

    /// <summary>Bytes of a tensor from its type and shape; unknown types and rows that split a block are refused.</summary>
    private long TensorBytes(string name, GgmlType type, long[] dimensions)
    {
        if (!GgmlTypes.IsKnown(type))
            throw new CheckpointException($"{Path}: tensor {FileText.Quoted(name)} has ggml type {(uint)type}, which Tessera does not know.");
        int block = GgmlTypes.BlockElements(type);
        if (dimensions[0] % block != 0)
            throw Corrupt($"tensor {FileText.Quoted(name)} ({GgmlTypes.Name(type)}) has rows of {dimensions[0]} values, not a whole number of its {block}-value blocks");
        try
        {
            long bytes = checked(dimensions[0] / block * GgmlTypes.BlockBytes(type));
            for (int d = 1; d < dimensions.Length; d++) bytes = checked(bytes * dimensions[d]);
            return bytes;
        }
        catch (OverflowException)
        {
            throw Corrupt($"tensor {FileText.Quoted(name)} has shape [{string.Join(", ", dimensions)}], more bytes than any file holds");
        }
    }

    /// <summary>Every tensor inside the data section and no two sharing a byte (one would be read as the other's data).</summary>
    private void CheckTensorsFitApart(IEnumerable<GgufTensor> tensors, long dataBytes)
    {
        long end = 0;
        string? previous = null;
        foreach (var t in tensors.OrderBy(t => t.Offset))
        {
            if (t.Offset > dataBytes - t.Bytes)
                throw new CheckpointException(
                    $"{Path}: corrupt GGUF file: tensor {FileText.Quoted(t.Name)} needs bytes [{t.Offset}, {t.Offset + t.Bytes}) of a {dataBytes}-byte data section (the file is truncated, or its header is wrong).");
            if (t.Offset < end)
                throw Corrupt($"tensor {FileText.Quoted(t.Name)} at byte {t.Offset} overlaps tensor {FileText.Quoted(previous!)}, which ends at {end}");
            end = t.Offset + t.Bytes;
            previous = t.Name;
        }
    }

    private CheckpointException Corrupt(string what, string prefix = "corrupt GGUF header") => new($"{Path}: {prefix}: {what}.");

    private static string Shown(object value) => value switch
    {
        string s => FileText.Quoted(s),
        Array array => $"an array of {array.Length}",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>A cursor over the header, refusing every read past the end of the file.</summary>
    private unsafe sealed class HeaderReader(GgufFile file)
    {
        /// <summary>A string longer than this is no key, name or token any model has (llama.cpp's chat templates run to tens of KiB).</summary>
        private const long MaxStringBytes = 16 << 20;

        public long Position { get; private set; }

        private byte* Take(long bytes, string what)
        {
            if (bytes < 0 || bytes > file.Length - Position)
                throw file.Corrupt($"the header ends inside {what} (byte {Position} of {file.Length})", prefix: "corrupt GGUF header (truncated?)");
            byte* p = file._base + Position;
            Position += bytes;
            return p;
        }

        public uint UInt32() => *(uint*)Take(4, "a number");

        public ulong UInt64() => *(ulong*)Take(8, "a number");

        /// <summary>A count of items each at least <paramref name="minimumBytesEach"/> long: more than the rest of the file holds is refused before anything is allocated.</summary>
        public long Count(string what, long minimumBytesEach)
        {
            ulong count = UInt64();
            if (count > (ulong)((file.Length - Position) / minimumBytesEach))
                throw file.Corrupt($"its {what} is {count}, more than the {file.Length}-byte file can hold");
            return (long)count;
        }

        public string String(string what)
        {
            ulong length = UInt64();
            if (length > MaxStringBytes || (long)length > file.Length - Position)
                throw file.Corrupt($"{what} claims {length} bytes, more than {(length > MaxStringBytes ? $"the {MaxStringBytes >> 20} MiB a string may have" : "the file has left")}");
            var bytes = new ReadOnlySpan<byte>(Take((long)length, what), (int)length);
            try
            {
                return Strict.GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                throw file.Corrupt($"{what} at byte {Position - (long)length} is not UTF-8 text");
            }
        }

        private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

        /// <summary>A typed metadata value (gguf_type): scalars as long, double, bool or string; an array as an array of those.</summary>
        public object Value(string key, out (uint Type, uint ElementType) written)
        {
            uint type = UInt32();
            written = (type, 0);
            if (type != 9) return Scalar(type, key);
            uint elementType = UInt32();
            written = (type, elementType);
            if (elementType == 9) throw file.Corrupt($"metadata {FileText.Quoted(key)} is an array of arrays, which no model needs");
            int size = ScalarSize(elementType, key);
            long count = Count($"metadata {FileText.Quoted(key)}'s element count", Math.Max(size, 8));
            if (count > Array.MaxLength) throw file.Corrupt($"metadata {FileText.Quoted(key)} has {count} elements");
            switch (elementType)
            {
                case 8:
                    var strings = new string[count];
                    for (long i = 0; i < count; i++) strings[i] = String($"element {i} of metadata {FileText.Quoted(key)}");
                    return strings;
                case 6 or 12:
                    var reals = new double[count];
                    for (long i = 0; i < count; i++) reals[i] = (double)Scalar(elementType, key);
                    return reals;
                case 7:
                    var flags = new bool[count];
                    for (long i = 0; i < count; i++) flags[i] = (bool)Scalar(elementType, key);
                    return flags;
                default:
                    var integers = new long[count];
                    for (long i = 0; i < count; i++) integers[i] = (long)Scalar(elementType, key);
                    return integers;
            }
        }

        private int ScalarSize(uint type, string key) => type switch
        {
            0 or 1 or 7 => 1,
            2 or 3 => 2,
            4 or 5 or 6 => 4,
            10 or 11 or 12 => 8,
            8 => 8,
            _ => throw file.Corrupt($"metadata {FileText.Quoted(key)} has value type {type}, which GGUF does not define"),
        };

        private object Scalar(uint type, string key) => type switch
        {
            0 => (long)*Take(1, key),
            1 => (long)*(sbyte*)Take(1, key),
            2 => (long)*(ushort*)Take(2, key),
            3 => (long)*(short*)Take(2, key),
            4 => (long)*(uint*)Take(4, key),
            5 => (long)*(int*)Take(4, key),
            6 => (double)*(float*)Take(4, key),
            7 => *Take(1, key) switch
            {
                0 => false,
                1 => true,
                var b => throw file.Corrupt($"metadata {FileText.Quoted(key)} is a bool of value {b}"),
            },
            8 => String($"metadata {FileText.Quoted(key)}"),
            10 => *(ulong*)Take(8, key) is var u && u <= long.MaxValue ? (long)u : throw file.Corrupt($"metadata {FileText.Quoted(key)} is {u}, past any count a model has"),
            11 => *(long*)Take(8, key),
            12 => *(double*)Take(8, key),
            _ => throw file.Corrupt($"metadata {FileText.Quoted(key)} has value type {type}, which GGUF does not define"),
        };
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
