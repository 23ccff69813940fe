namespace Tessera.Checkpoints;

/// <summary>A Hugging Face folder's tensors: model.safetensors, or the shards its index lists.</summary>
internal sealed class SafetensorsSource(List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> fileOfTensor) : ITensorSource
{
    public string Describe => string.Join(", ", files.Select(f => Path.GetFileName(f.Path)));

    public IEnumerable<string> Names => fileOfTensor.Keys;

    public bool Contains(string name) => fileOfTensor.ContainsKey(name);

    public TensorInfo Info(string name)
    {
        var file = fileOfTensor[name];
        var entry = file.Entries[name];
        return new TensorInfo(name, entry.DType, entry.Shape, file.Path, TensorDTypes.TryParse(entry.DType, out _));
    }

    public void ReadF32(string name, long rowStart, long rowCount, long colStart, long colCount, Span<float> destination)
    {
        var file = fileOfTensor[name];
        file.ReadF32(file.Entries[name], rowStart, rowCount, colStart, colCount, destination);
    }

    /// <summary>Safetensors holds no block-quantized types.</summary>
    public Quantization.QuantizedRows? ReadQuantized(string name, long rowStart, long rowCount, long colStart, long colCount) => null;

    public void Dispose()
    {
        foreach (var f in files) f.Dispose();
    }
}
