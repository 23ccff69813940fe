using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>The file types <see cref="GgufQuantizer"/> writes, named and numbered as llama.cpp's llama_ftype.</summary>
public enum GgufFileType
{
    Q4_0 = 2,
    Q8_0 = 7,
    Q4_K_M = 15,
}

/// <summary>
/// Writes a GGUF file's weights quantized, as llama.cpp's llama-quantize does without an importance matrix: the same
/// metadata (types kept, general.file_type set), the same choice of type per tensor, and ggml's reference quantizers,
/// so that a tensor comes out byte for byte as llama-quantize writes it.
/// </summary>
/// <remarks>
/// The choice (llama-quant.cpp's llama_tensor_get_type, for these file types): matrices named *.weight are quantized,
/// norms, routers (ffn_gate_inp) and position embeddings stay as they are; the output matrix (or the token embedding
/// when it is the output too) takes Q6_K unless the file is Q8_0; Q4_K_M gives attn_v and ffn_down Q6_K in the layers
/// use_more_bits picks (the first and last eighth, every third between). A row that is not whole blocks of the chosen
/// type falls back as llama.cpp's does (Q6_K -> Q8_0, Q4_K -> Q5_0, here Q8_0, which Tessera can write), and to F16
/// when it is not whole 32-value blocks either.
/// </remarks>
public static class GgufQuantizer
{
    public static void Quantize(string inputPath, string outputPath, GgufFileType fileType)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"{outputPath}: the output would overwrite the input.");
        OutputFile.Check(outputPath);
        using var input = GgufFile.Open(inputPath);
        var metadata = new List<KeyValuePair<string, object>>();
        foreach (var (key, value) in input.Metadata)
        {
            if (key is "general.file_type" or "general.quantization_version" or "general.alignment") continue;
            var (type, element) = input.MetadataTypes[key];
            metadata.Add(new(key, new GgufWriter.Typed(value, type, element)));
        }
        metadata.Add(new("general.file_type", (uint)fileType));
        metadata.Add(new("general.quantization_version", 2u));

        string arch = input.Metadata.TryGetValue("general.architecture", out var a) && a is string s ? s : "";
        bool hasOutput = input.Tensors.ContainsKey("output.weight");
        int layers = input.Metadata.TryGetValue($"{arch}.block_count", out var l) && l is long n ? (int)n : 0;
        var tensors = new List<GgufWriter.Tensor>();
        foreach (var tensor in input.Tensors.Values.OrderBy(t => t.Offset))
        {
            var type = TypeFor(tensor, fileType, hasOutput, layers);
            tensors.Add(new GgufWriter.Tensor(tensor.Name, type, tensor.Dimensions, type == tensor.Type ? input.Bytes(tensor).ToArray() : Convert(input, tensor, type)));
        }
        GgufWriter.Write(outputPath, metadata, tensors);
    }

    /// <summary>The type llama-quantize gives <paramref name="tensor"/> in a <paramref name="fileType"/> file.</summary>
    public static GgmlType TypeFor(GgufTensor tensor, GgufFileType fileType, bool hasOutput, int layers)
    {
        string name = tensor.Name;
        bool matrix = tensor.Dimensions.Length >= 2 && name.EndsWith(".weight", StringComparison.Ordinal);
        if (!matrix || name.Contains("_norm.") || name.Contains("ffn_gate_inp") || name.StartsWith("position_embd", StringComparison.Ordinal)
            || !GgmlTypes.CanDequantize(tensor.Type))
            return tensor.Type;
        var wanted = fileType switch { GgufFileType.Q8_0 => GgmlType.Q8_0, GgufFileType.Q4_0 => GgmlType.Q4_0, _ => GgmlType.Q4_K };
        bool output = name == "output.weight" || (!hasOutput && name == "token_embd.weight");
        if (output && fileType != GgufFileType.Q8_0) wanted = GgmlType.Q6_K;
        else if (fileType == GgufFileType.Q4_K_M && (name.Contains(".attn_v.") || name.Contains(".ffn_down")) && Layer(name) is int i && UseMoreBits(i, layers))
            wanted = GgmlType.Q6_K;
        long columns = tensor.Dimensions[0];
        if (columns % GgmlTypes.BlockElements(wanted) != 0) wanted = GgmlType.Q8_0;
        if (columns % GgmlTypes.BlockElements(wanted) != 0) wanted = GgmlType.F16;
        return wanted;
    }

    /// <summary>llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.</summary>
    private static bool UseMoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private static int? Layer(string name) =>
        name.StartsWith("blk.", StringComparison.Ordinal) && int.TryParse(name.AsSpan(4, name.IndexOf('.', 4) - 4), out int i) ? i : null;

    /// <summary>The tensor's rows dequantized and written as <paramref name="type"/>.</summary>
    private static byte[] Convert(GgufFile input, GgufTensor tensor, GgmlType type)
    {
        int columns = (int)tensor.Dimensions[0];
        long rows = tensor.Dimensions.Skip(1).Aggregate(1L, (a, b) => a * b);
        long inRow = GgmlTypes.RowBytes(tensor.Type, columns), outRow = GgmlTypes.RowBytes(type, columns);
        var result = new byte[rows * outRow];
        var values = new float[columns];
        for (long r = 0; r < rows; r++)
        {
            Dequantize.Row(tensor.Type, input.Bytes(tensor, r * inRow, inRow), values);
            var destination = result.AsSpan((int)(r * outRow), (int)outRow);
            if (type == GgmlType.F16)
                for (int c = 0; c < columns; c++) BitConverter.TryWriteBytes(destination[(2 * c)..], (Half)values[c]);
            else
                Tessera.Quantization.Quantize.Row(type, values, destination);
        }
        return result;
    }
}
