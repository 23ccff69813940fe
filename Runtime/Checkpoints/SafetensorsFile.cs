using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tessera.Checkpoints;

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
        FileText.RequireRegularFile(path);
        long length = FileText.LengthOf(path);
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
            throw new CheckpointException($"{path}: corrupt safetensors header: not valid JSON ({FileText.Escaped(e.Message)}).", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: corrupt safetensors header: expected a JSON object.");
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (!IsValidName(p)) throw new CheckpointException($"{path}: corrupt safetensors header: a tensor name is not valid Unicode text (a lone surrogate, or bytes that are not UTF-8).");
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
                    if (size is null) throw new FormatException($"unknown dtype {FileText.Quoted(dtype)}");
                    if (shape.Any(x => x < 0)) throw new FormatException("negative dimension");
                    if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > dataBytes)
                        throw new FormatException($"data_offsets [{entry.Begin}, {entry.End}) fall outside the {dataBytes}-byte data section");
                    if (entry.End - entry.Begin != checked(entry.ElementCount * size.Value))
                        throw new FormatException($"{entry.End - entry.Begin} bytes do not hold {FileText.Quoted(dtype)} {entry.ShapeText}");
                    // JSON allows repeated keys; a second tensor of the same name would make the first unreachable.
                    if (!entries.TryAdd(p.Name, entry)) throw new FormatException("the name appears twice");
                }
                catch (Exception ex) when (ex is FormatException or InvalidOperationException or KeyNotFoundException or OverflowException)
                {
                    throw new CheckpointException($"{path}: corrupt safetensors header: tensor {FileText.Quoted(p.Name)}: {ex.Message}.", ex);
                }
            }
            CheckDataIsIndexedEntirely(path, entries.Values, dataBytes);
            return entries;
        }
    }

    /// <summary>A name that JSON escapes spell as a lone surrogate ("\ud800"), or that is not UTF-8, cannot be read as a .NET string.</summary>
    private static bool IsValidName(JsonProperty property)
    {
        try
        {
            _ = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// As the safetensors reference implementation validates: the tensors, by offset, tile the data section exactly —
    /// the first at 0, each where the previous ends, the last at its end. A gap, an overlap or trailing bytes mean a
    /// header that does not describe its data (a header length one byte short shifts every tensor by a byte and reads
    /// as NaN weights), so the file is refused rather than read wrong.
    /// </summary>
    private static void CheckDataIsIndexedEntirely(string path, IEnumerable<SafetensorsEntry> entries, long dataBytes)
    {
        long next = 0;
        foreach (var entry in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (entry.Begin != next)
                throw new CheckpointException(entry.Begin < next
                    ? $"{path}: corrupt safetensors header: tensor {FileText.Quoted(entry.Name)} at bytes [{entry.Begin}, {entry.End}) overlaps the tensor before it, which ends at {next}."
                    : $"{path}: corrupt safetensors header: bytes [{next}, {entry.Begin}) of the data section belong to no tensor (tensor {FileText.Quoted(entry.Name)} starts at {entry.Begin}).");
            next = entry.End;
        }
        if (next != dataBytes)
            throw new CheckpointException(
                $"{path}: corrupt safetensors header: the tensors end at byte {next} of a {dataBytes}-byte data section; the header length or the data offsets are wrong.");
    }

    /// <summary>
    /// Reads rows [rowStart, rowStart + rowCount) and columns [colStart, colStart + colCount) of a 2-D tensor
    /// (or elements of a 1-D tensor when <paramref name="rowCount"/> is 1 and the tensor is 1-D) into F32.
    /// </summary>
    public void ReadF32(SafetensorsEntry entry, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination)
    {
        if (!TensorDTypes.TryParse(entry.DType, out var dtype))
            throw new CheckpointException($"{Path}: tensor {FileText.Quoted(entry.Name)} has dtype {FileText.Quoted(entry.DType)}; weights must be F32, F16 or BF16.");
        long rowsInTensor = entry.Shape.Length == 2 ? entry.Shape[0] : 1;
        long cols = entry.Shape.Length == 2 ? entry.Shape[1] : entry.ElementCount;
        // Reads go through a raw pointer into the mapping: a block outside the tensor would read other tensors or
        // fault, so it is refused here.
        if (rowStart < 0 || rowCount < 0 || rowStart + rowCount > rowsInTensor)
            throw new ArgumentOutOfRangeException(nameof(rowStart), $"{Path}: rows [{rowStart}, {rowStart + rowCount}) of tensor {FileText.Quoted(entry.Name)} {entry.ShapeText} are outside it.");
        if (colStart < 0 || colCount < 0 || colStart + colCount > cols)
            throw new ArgumentOutOfRangeException(nameof(colStart), $"{Path}: columns [{colStart}, {colStart + colCount}) of tensor {FileText.Quoted(entry.Name)} {entry.ShapeText} are outside it.");
        if (destination.Length < rowCount * colCount)
            throw new ArgumentException($"The destination holds {destination.Length} floats, fewer than the {rowCount * colCount} read.", nameof(destination));
        int size = TensorDTypes.Size(dtype);
        for (long r = 0; r < rowCount; r++)
        {
            long offset = _dataStart + entry.Begin + ((rowStart + r) * cols + colStart) * size;
            var dst = destination.Slice((int)(r * colCount), (int)colCount);
            ReadRow(offset, dtype, dst);
        }
    }

    /// <summary>Reads a whole I32 tensor (token ids in reference files).</summary>
    public unsafe int[] ReadInt32(string name)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new CheckpointException($"{Path}: no tensor \"{name}\".");
        if (entry.DType != "I32")
            throw new CheckpointException($"{Path}: tensor {FileText.Quoted(name)} has dtype {FileText.Quoted(entry.DType)}, expected I32.");
        var result = new int[entry.ElementCount];
        byte* basePtr = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            new ReadOnlySpan<int>(basePtr + _view.PointerOffset + _dataStart + entry.Begin, result.Length).CopyTo(result);
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        return result;
    }

    /// <summary>Reads a whole floating-point tensor as F32, flattened.</summary>
    public float[] ReadFloats(string name)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new CheckpointException($"{Path}: no tensor \"{name}\".");
        var result = new float[entry.ElementCount];
        if (entry.Shape.Length == 2) ReadF32(entry, 0, entry.Shape[0], 0, entry.Shape[1], result);
        else ReadF32(entry, 0, 1, 0, entry.ElementCount, result);
        return result;
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
