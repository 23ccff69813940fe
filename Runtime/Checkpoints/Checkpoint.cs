using System.Text.Json;

namespace Tessera.Checkpoints;

/// <summary>Where a module's rows sit in a fused tensor (Phi-3's qkv_proj holds q, k and v): from row Offset of its Rows.</summary>
public readonly record struct FusedRows(int Offset, int Rows);

/// <summary>
/// A checkpoint: a Hugging Face folder (config.json plus model.safetensors, or shards listed by
/// model.safetensors.index.json) or a GGUF file (llama.cpp's: metadata standing for config.json, tensors under
/// llama.cpp's names, possibly block-quantized). Generated engines load each weight by its Hugging Face name through
/// <see cref="LoadMatrix"/> / <see cref="LoadWeight"/> / <see cref="LoadVector"/>, which check the name, shape and
/// type against what the compiled model expects.
/// </summary>
public sealed partial class Checkpoint : IDisposable
{
    private readonly ITensorSource _source;

    private Checkpoint(string directory, ModelConfig config, ITensorSource source)
    {
        Directory = directory;
        Config = config;
        _source = source;
    }

    /// <summary>The folder, or the GGUF file, the checkpoint was opened from.</summary>
    public string Directory { get; }

    public ModelConfig Config { get; }

    /// <summary>Bytes of F32 weights materialised so far.</summary>
    public long BytesLoaded { get; private set; }

    public IEnumerable<string> TensorNames => _source.Names;

    /// <summary>A checkpoint folder, or a GGUF file (<see cref="OpenGguf"/>).</summary>
    public static Checkpoint Open(string directory)
    {
        if (File.Exists(directory)) return OpenGguf(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new CheckpointException($"{directory}: checkpoint folder not found.");
        var config = ModelConfig.LoadModel(System.IO.Path.Combine(directory, "config.json"));
        var files = new List<SafetensorsFile>();
        var fileOfTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            string single = System.IO.Path.Combine(directory, "model.safetensors");
            string index = System.IO.Path.Combine(directory, "model.safetensors.index.json");
            IEnumerable<string> shardPaths;
            if (File.Exists(single)) shardPaths = [single];
            else if (File.Exists(index)) shardPaths = ReadIndex(index).Select(s => System.IO.Path.Combine(directory, s));
            else throw new CheckpointException($"{directory}: neither model.safetensors nor model.safetensors.index.json is there.");

            foreach (var path in shardPaths)
            {
                var file = SafetensorsFile.Open(path);
                files.Add(file);
                foreach (var name in file.Entries.Keys)
                    // Which of two copies the index means is a guess either way, and a wrong guess is silently wrong logits.
                    if (!fileOfTensor.TryAdd(name, file))
                        throw new CheckpointException(
                            $"{directory}: tensor {FileText.Quoted(name)} is in two shards, {System.IO.Path.GetFileName(fileOfTensor[name].Path)} and {System.IO.Path.GetFileName(path)}: a checkpoint holds each tensor once.");
            }
            return new Checkpoint(directory, config, new SafetensorsSource(files, fileOfTensor));
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static IEnumerable<string> ReadIndex(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(FileText.ReadBytes(path, FileText.Metadata));
            return doc.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => ShardName(path, p)).Distinct().Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new CheckpointException($"{path}: malformed index: {FileText.Escaped(e.Message)}", e);
        }
    }

    /// <summary>
    /// A weight_map entry's shard: a file name in the checkpoint folder. A path ("../x", "/etc/passwd") would open a
    /// file outside the checkpoint, and report its first bytes as a header length; null or a number names no file; a
    /// control character (NUL included) is no shard name a writer meant, and would reach messages as a path.
    /// </summary>
    private static string ShardName(string path, JsonProperty entry)
    {
        string? shard = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
        if (shard is null or "" or "." or ".." || shard.IndexOfAny(['/', '\\']) >= 0 || shard.Any(char.IsControl) || System.IO.Path.IsPathRooted(shard))
            throw new CheckpointException(
                $"{path}: weight_map gives tensor {FileText.Quoted(entry.Name)} the shard {FileText.Json(entry.Value)}, but a shard must be a file name in the checkpoint folder.");
        return shard;
    }

    public bool Has(string name) => _source.Contains(Stored(name));

    /// <summary>
    /// The name a tensor has in the files: its own, or, for the text part of a multimodal checkpoint, the same under
    /// the prefix the checkpoint stores it with (<see cref="ModelConfig.TensorPrefixes"/>).
    /// </summary>
    private string Stored(string name)
    {
        if (_source.Contains(name)) return name;
        foreach (var (own, stored) in Config.TensorPrefixes)
        {
            if (!name.StartsWith(own, StringComparison.Ordinal)) continue;
            foreach (var prefix in stored)
                if (_source.Contains(prefix + name[own.Length..])) return prefix + name[own.Length..];
        }
        return name;
    }

    /// <summary>
    /// A count from the config that sizes arrays before any tensor is read (layers, experts) must be one the checkpoint
    /// holds: numbered tensors <c>{prefix}{i}{suffix}</c> for i = 0 .. count - 1. Checked on the last one, so a
    /// num_hidden_layers of 2^31-1 is refused before an array of that many layers is allocated.
    /// </summary>
    /// <param name="key">the config key the count comes from, for the message</param>
    public void RequireNumbered(string key, int count, string prefix, string suffix)
    {
        if (count <= 0 || Has($"{prefix}{count - 1}{suffix}")) return;
        int held = 0;
        while (Has($"{prefix}{held}{suffix}")) held++;
        string there = held == 0 ? $"not even {prefix}0{suffix}" : $"{prefix}0{suffix} to {prefix}{held - 1}{suffix} are there";
        throw new CheckpointException($"{Config.Path}: \"{key}\" is {count}, but the checkpoint holds {held}: it has no tensor \"{prefix}{count - 1}{suffix}\" ({there}).");
    }

    public TensorInfo Entry(string name)
    {
        string stored = Stored(name);
        return _source.Contains(stored) ? _source.Info(stored)
            : throw new CheckpointException($"{Directory}: the model needs tensor \"{name}\" but the checkpoint ({_source.Describe}) does not have it.");
    }

    /// <summary>
    /// Loads a matrix as (N, K) = [out, in] F32, whatever its stored layout, or the block of rows
    /// [outStart, outStart + outCount) and columns [inStart, inStart + inCount) of it (a tensor-parallel shard).
    /// </summary>
    /// <param name="what">how the model describes the expected shape, for messages ("Out = Vocab = 512, In = Dim = 64")</param>
    /// <param name="fused">when the matrix is rows of a fused tensor (Phi-3's qkv_proj): where they sit in it</param>
    public float[] LoadMatrix(string name, int outFeatures, int inFeatures, WeightLayout layout, string what,
        int outStart = 0, int outCount = -1, int inStart = 0, int inCount = -1, FusedRows? fused = null)
    {
        if (outCount < 0) outCount = outFeatures - outStart;
        if (inCount < 0) inCount = inFeatures - inStart;
        CheckRange(name, outStart, outCount, outFeatures, "rows");
        CheckRange(name, inStart, inCount, inFeatures, "columns");
        var entry = Entry(name);
        int storedRows = StoredRows(name, outFeatures, fused, what);
        long[] expected = layout == WeightLayout.OutIn ? [storedRows, inFeatures] : [inFeatures, storedRows];
        CheckShape(entry, expected, what);
        outStart += fused?.Offset ?? 0;
        var result = new float[(long)outCount * inCount];
        if (layout == WeightLayout.OutIn)
        {
            ReadFinite(entry, outStart, outCount, inStart, inCount, result);
        }
        else
        {
            // Stored [in, out]: read the block as (inCount, outCount) and transpose once, so every kernel sees [out, in].
            var stored = new float[(long)inCount * outCount];
            ReadFinite(entry, inStart, inCount, outStart, outCount, stored);
            for (int i = 0; i < inCount; i++)
                for (int o = 0; o < outCount; o++)
                    result[(long)o * inCount + i] = stored[(long)i * outCount + o];
        }
        BytesLoaded += result.LongLength * sizeof(float);
        return result;
    }

    /// <summary>
    /// The rows the stored tensor has: this module's own, or (a part of a fused tensor) the fused tensor's, which must
    /// hold the part where the config's sizes put it.
    /// </summary>
    private int StoredRows(string name, int outFeatures, FusedRows? fused, string what)
    {
        if (fused is not { } part) return outFeatures;
        if (part.Offset < 0 || part.Rows < 0 || part.Offset > part.Rows - outFeatures)
            throw new CheckpointException(
                $"{Config.Path}: the sizes put rows [{part.Offset}, {(long)part.Offset + outFeatures}) of \"{name}\" ({what}) outside its {part.Rows} fused rows.");
        return part.Rows;
    }

    /// <summary>This rank's part of a column-parallel bias, split as <see cref="WeightShard.Rows"/> splits a matrix's rows.</summary>
    public float[] LoadVectorShard(string name, int length, string what, int groups, int rank, int degree, FusedRows? fused = null) =>
        LoadVectorParts(name, length, what, WeightShard.Rows(groups, rank, degree).Parts(length, 1), fused);

    /// <summary>This rank's part of a head-split bias (a key/value projection's), as <see cref="WeightShard.HeadRows"/> splits its rows.</summary>
    public float[] LoadVectorHeadShard(string name, int length, string what, int heads, int rank, int degree, FusedRows? fused = null) =>
        LoadVectorParts(name, length, what, WeightShard.HeadRows(heads, rank, degree).Parts(length, 1), fused);

    /// <summary>This rank's part of a vocab-parallel bias, zero-padded as <see cref="WeightShard.PaddedRows"/> pads its rows.</summary>
    public float[] LoadVectorPaddedShard(string name, int length, string what, int rank, int degree, FusedRows? fused = null) =>
        LoadVectorParts(name, length, what, WeightShard.PaddedRows(rank, degree).Parts(length, 1), fused);

    /// <summary>A shard's elements of a vector, the padding zero; the tensor's shape checked before the result is allocated.</summary>
    private float[] LoadVectorParts(string name, int length, string what, ShardParts parts, FusedRows? fused)
    {
        if (parts.Rows is [(0, var all)] && all == length) return LoadVector(name, length, what, fused: fused);
        CheckShape(Entry(name), [StoredRows(name, length, fused, what)], what);
        var result = new float[parts.RowsHeld];
        int at = 0;
        foreach (var (start, count) in parts.Rows)
        {
            if (count == 0) continue;
            LoadVector(name, length, what, start: start, count: count, fused: fused).CopyTo(result, at);
            at += count;
        }
        return result;
    }

    /// <summary>
    /// Loads a 1-D tensor of <paramref name="length"/> elements (or the slice [start, start + count)), plus
    /// <paramref name="offset"/> on every element (a Gemma norm's stored w is the scale 1 + w less its 1).
    /// </summary>
    public float[] LoadVector(string name, int length, string what, int start = 0, int count = -1, FusedRows? fused = null, float offset = 0)
    {
        if (count < 0) count = length - start;
        CheckRange(name, start, count, length, "elements");
        var entry = Entry(name);
        CheckShape(entry, [StoredRows(name, length, fused, what)], what);
        var result = new float[count];
        ReadFinite(entry, 0, 1, start + (fused?.Offset ?? 0), count, result);
        if (offset != 0) System.Numerics.Tensors.TensorPrimitives.Add(result, offset, result);
        BytesLoaded += result.LongLength * sizeof(float);
        return result;
    }

    /// <summary>
    /// Every F32 read of a weight goes through here: the block as <see cref="ITensorSource.ReadF32"/> converts it, then
    /// refused if any value is NaN or infinite (<see cref="NonFiniteWeight"/>). The check is one vectorized pass over
    /// values just written, cheap beside the conversion; a model with one NaN weight gives NaN logits for every prompt.
    /// </summary>
    private void ReadFinite(TensorInfo entry, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination)
    {
        _source.ReadF32(entry.Name, rowStart, rowCount, colStart, colCount, destination);
        var values = destination[..(int)(rowCount * colCount)];
        if (NonFinite.IndexOf(values) is var at and >= 0)
            throw NonFiniteWeight(entry, rowStart + at / colCount, colStart + at % colCount, values[(int)at]);
    }

    /// <summary>The error for a weight that is NaN or infinite at stored [row, column] (a vector's element: row 0).</summary>
    private static CheckpointException NonFiniteWeight(TensorInfo entry, long row, long column, float value) =>
        new($"{entry.File}: tensor {FileText.Quoted(entry.Name)} ({entry.DType} {entry.ShapeText}) holds {NonFinite.Name(value)} at "
            + (entry.Shape.Length == 1 ? $"index {column}" : $"[{row}, {column}]") + ": every weight must be a finite number.");

    /// <summary>A shard outside the tensor is a bug in the caller's plan, not in the checkpoint.</summary>
    private static void CheckRange(string name, int start, int count, int size, string what)
    {
        if (start < 0 || count < 0 || start > size - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{what} [{start}, {start + count}) of \"{name}\" fall outside its {size} {what}.");
    }

    /// <summary>
    /// Shard loaders allocate their result from the config's sizes before reading a block: the tensor's shape is
    /// checked first, so sizes the checkpoint does not have (an intermediate_size of 6e7) are refused, not allocated.
    /// </summary>
    private void CheckShape(string name, WeightLayout layout, int outFeatures, int inFeatures, string what) =>
        CheckShape(Entry(name), layout == WeightLayout.OutIn ? [outFeatures, inFeatures] : [inFeatures, outFeatures], what);

    private static void CheckShape(TensorInfo entry, long[] expected, string what)
    {
        if (!entry.Readable)
            throw new CheckpointException($"{entry.File}: tensor {FileText.Quoted(entry.Name)} has dtype {FileText.Quoted(entry.DType)}, but the model expects a floating-point weight (F32, F16 or BF16).");
        if (!entry.Shape.SequenceEqual(expected))
            throw new CheckpointException(
                $"{entry.File}: tensor {FileText.Quoted(entry.Name)} has shape {entry.ShapeText}, but the compiled model expects [{string.Join(", ", expected)}] ({what}).");
    }

    public void Dispose() => _source.Dispose();
}
