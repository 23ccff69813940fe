using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tessera.Checkpoints;

/// <summary>One entry of a safetensors header.</summary>
/// <param name="Name">the tensor's name</param>
/// <param name="DType">the dtype string as written ("F32", "BF16", ...)</param>
/// <param name="Shape">dimensions</param>
/// <param name="Begin">byte offset of the data, relative to the data section</param>
/// <param name="End">end offset (exclusive)</param>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>
/// A memory-mapped .safetensors file: an 8-byte little-endian header length, a JSON header, then raw data.
/// The header is validated when the file is opened (offsets inside the file, sizes matching shapes and dtypes);
/// tensors are read on demand, so a device that needs a slice touches only that slice.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly long _dataStart;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataStart, Dictionary<string, SafetensorsEntry> entries)
    {
        Path = path;
        _map = map;
        _view = view;
        _dataStart = dataStart;
        Entries = entries;
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: file not found.");
        long length = new FileInfo(path).Length;
        if (length < 8)
            throw new CheckpointException($"{path}: corrupt safetensors header: the file has {length} bytes, fewer than the 8-byte header length.");

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        try
        {
            long headerLength = view.ReadInt64(0);
            if (headerLength <= 0 || headerLength > MaxHeaderBytes || headerLength > length - 8)
                throw new CheckpointException($"{path}: corrupt safetensors header: header length {headerLength} does not fit a file of {length} bytes.");
            var header = new byte[headerLength];
            view.ReadArray(8, header, 0, header.Length);
            long dataStart = 8 + headerLength;
            var entries = ParseHeader(path, header, length - dataStart);
            return new SafetensorsFile(path, map, view, dataStart, entries);
        }
        catch
        {
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    private static Dictionary<string, SafetensorsEntry> ParseHeader(string path, byte[] header, long dataBytes)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: corrupt safetensors header: not valid JSON ({e.Message}).", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: corrupt safetensors header: expected a JSON object.");
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "__metadata__") continue;
                try
                {
                    var e = p.Value;
                    string dtype = e.GetProperty("dtype").GetString() ?? "";
                    long[] shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                    long[] offsets = e.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                    if (offsets.Length != 2) throw new FormatException("data_offsets must hold two numbers");
                    var entry = new SafetensorsEntry(p.Name, dtype, shape, offsets[0], offsets[1]);
                    int? size = TensorDTypes.TryParse(dtype, out var d) ? TensorDTypes.Size(d) : TensorDTypes.OtherSize(dtype);
                    if (size is null) throw new FormatException($"unknown dtype \"{dtype}\"");
                    if (shape.Any(x => x < 0)) throw new FormatException("negative dimension");
                    if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > dataBytes)
                        throw new FormatException($"data_offsets [{entry.Begin}, {entry.End}) fall outside the {dataBytes}-byte data section");
                    if (entry.End - entry.Begin != entry.ElementCount * size)
                        throw new FormatException($"{entry.End - entry.Begin} bytes do not hold {dtype} {entry.ShapeText}");
                    entries.Add(p.Name, entry);
                }
                catch (Exception ex) when (ex is FormatException or InvalidOperationException or KeyNotFoundException)
                {
                    throw new CheckpointException($"{path}: corrupt safetensors header: tensor \"{p.Name}\": {ex.Message}.", ex);
                }
            }
            return entries;
        }
    }

    /// <summary>
    /// Reads rows [rowStart, rowStart + rowCount) and columns [colStart, colStart + colCount) of a 2-D tensor
    /// (or elements of a 1-D tensor when <paramref name="rowCount"/> is 1 and the tensor is 1-D) into F32.
    /// </summary>
    public void ReadF32(SafetensorsEntry entry, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination)
    {
        if (!TensorDTypes.TryParse(entry.DType, out var dtype))
            throw new CheckpointException($"{Path}: tensor \"{entry.Name}\" has dtype {entry.DType}; weights must be F32, F16 or BF16.");
        long cols = entry.Shape.Length == 2 ? entry.Shape[1] : entry.ElementCount;
        int size = TensorDTypes.Size(dtype);
        for (long r = 0; r < rowCount; r++)
        {
            long offset = _dataStart + entry.Begin + ((rowStart + r) * cols + colStart) * size;
            var dst = destination.Slice((int)(r * colCount), (int)colCount);
            ReadRow(offset, dtype, dst);
        }
    }

    private unsafe void ReadRow(long offset, TensorDType dtype, Span<float> dst)
    {
        byte* basePtr = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            byte* p = basePtr + _view.PointerOffset + offset;
            switch (dtype)
            {
                case TensorDType.F32:
                    new ReadOnlySpan<float>(p, dst.Length).CopyTo(dst);
                    break;
                case TensorDType.F16:
                    var halves = new ReadOnlySpan<Half>(p, dst.Length);
                    System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(halves, dst);
                    break;
                case TensorDType.BF16:
                    var raw = new ReadOnlySpan<ushort>(p, dst.Length);
                    var bits = MemoryMarshal.Cast<float, uint>(dst);
                    for (int i = 0; i < raw.Length; i++) bits[i] = (uint)raw[i] << 16;
                    break;
            }
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    public void Dispose()
    {
        _view.Dispose();
        _map.Dispose();
    }
}
