using Tessera.Cpu;
using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>Which part of a matrix (or vector) a rank loads under tensor parallelism.</summary>
public readonly record struct WeightShard(WeightShardKind Kind, int Rank = 0, int Degree = 1, int Groups = 1, int Heads = 1)
{
    public static WeightShard Whole => new(WeightShardKind.Whole);

    /// <summary>Column-parallel: the output features split in Degree parts, each of <paramref name="groups"/> equal blocks split on its own (GPT-2's fused q | k | v).</summary>
    public static WeightShard Rows(int groups, int rank, int degree) => new(WeightShardKind.Rows, rank, degree, Groups: groups);

    /// <summary>
    /// The rows of the heads this rank's query heads read, when the output features are <paramref name="heads"/> heads
    /// (the key/value projection of grouped-query attention): heads [rank * heads / degree, ...) — its share,
    /// heads / degree of them, when the degree divides the heads, or the one head it shares with degree / heads - 1
    /// other ranks when the degree is a multiple of them (replicated, as vLLM does). Either way ceil(heads / degree) heads.
    /// </summary>
    public static WeightShard HeadRows(int heads, int rank, int degree) => new(WeightShardKind.HeadRows, rank, degree, Heads: heads);

    /// <summary>
    /// Vocab-parallel rows that the degree may not divide (a head of 50,257 tokens): ceil(out / degree) rows from
    /// rank * that, the rows past the last one zero.
    /// </summary>
    public static WeightShard PaddedRows(int rank, int degree) => new(WeightShardKind.PaddedRows, rank, degree);

    /// <summary>Row-parallel: the input features split, [out, in / degree].</summary>
    public static WeightShard Columns(int rank, int degree) => new(WeightShardKind.Columns, rank, degree);

    /// <summary>
    /// What the rank holds of an (out, in) matrix (a vector: in = 1): the stored row ranges, in order, of its
    /// <see cref="ShardParts.RowsHeld"/> rows (rows past the ranges are zero padding), and its columns.
    /// </summary>
    public ShardParts Parts(int outFeatures, int inFeatures)
    {
        if (Degree == 1 || Kind == WeightShardKind.Whole) return new([(0, outFeatures)], outFeatures, 0, inFeatures);
        switch (Kind)
        {
            case WeightShardKind.Rows:
                {
                    int block = outFeatures / Groups, part = block / Degree;
                    var ranges = new (int, int)[Groups];
                    for (int g = 0; g < Groups; g++) ranges[g] = (g * block + Rank * part, part);
                    return new(ranges, part * Groups, 0, inFeatures);
                }
            case WeightShardKind.HeadRows:
                {
                    if (Heads % Degree != 0 && Degree % Heads != 0)
                        throw new ArgumentOutOfRangeException(nameof(Degree), $"tensor degree {Degree} neither divides nor is a multiple of the {Heads} heads.");
                    int headSize = outFeatures / Heads, first = (int)((long)Rank * Heads / Degree), rows = (Heads + Degree - 1) / Degree * headSize;
                    return new([(first * headSize, rows)], rows, 0, inFeatures);
                }
            case WeightShardKind.PaddedRows:
                {
                    int part = (outFeatures + Degree - 1) / Degree, start = Math.Min(outFeatures, Rank * part);
                    return new([(start, Math.Min(part, outFeatures - start))], part, 0, inFeatures);
                }
            default:
                return new([(0, outFeatures)], outFeatures, Rank * (inFeatures / Degree), inFeatures / Degree);
        }
    }
}

/// <summary>The stored rows [Start, Start + Count) a rank holds, one range after another, then zero rows up to RowsHeld; columns [InStart, InStart + InCount).</summary>
public readonly record struct ShardParts((int Start, int Count)[] Rows, int RowsHeld, int InStart, int InCount);

public enum WeightShardKind { Whole, Rows, HeadRows, PaddedRows, Columns }

public sealed partial class Checkpoint
{
    /// <summary>The GGUF file this checkpoint is (its tokenizer and chat template live in the metadata), or null for a folder.</summary>
    public GgufFile? Gguf { get; private init; }

    /// <summary>
    /// A GGUF file as a checkpoint: its metadata read as the config.json it stands for, its tensors under Hugging Face
    /// names (<see cref="GgufLayout"/>).
    /// </summary>
    public static Checkpoint OpenGguf(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var layout = GgufLayout.Read(file);
            var config = ModelConfig.Parse(layout.Config.ToJsonString(), path + " (GGUF metadata)");
            return new Checkpoint(path, config, new GgufSource(file, layout.Views)) { Gguf = file };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The config of a checkpoint folder (its config.json) or of a GGUF file (its metadata), without loading tensors.</summary>
    public static ModelConfig LoadConfig(string path)
    {
        if (!File.Exists(path)) return ModelConfig.LoadModel(System.IO.Path.Combine(path, "config.json"));
        using var file = GgufFile.Open(path);
        return ModelConfig.Parse(GgufLayout.Read(file).Config.ToJsonString(), path + " (GGUF metadata)");
    }

    /// <summary>
    /// A matrix weight held as <paramref name="precision"/> asks: with <see cref="WeightPrecision.Stored"/>, a
    /// block-quantized tensor's rows stay as stored (the slice's columns on whole blocks); otherwise, or when the
    /// slice cuts blocks (a tensor-parallel split of a narrow matrix), the F32 values of
    /// <see cref="LoadMatrix"/>'s loaders, rounded or quantized as asked.
    /// </summary>
    /// <param name="shared">
    /// the tensor already loaded whole by another module (a tied embedding table): the same object when it is held as
    /// asked (as stored, or F32 for F32), else its values, rounded or quantized as asked, instead of a second read
    /// </param>
    public WeightMatrix LoadWeight(string name, int outFeatures, int inFeatures, WeightLayout layout, string what, WeightShard shard,
        WeightPrecision precision, FusedRows? fused = null, WeightMatrix? shared = null)
    {
        var parts = shard.Parts(outFeatures, inFeatures);
        int rows = parts.RowsHeld, cols = parts.InCount;
        if (shared is not null && shared.Rows == rows && shared.Cols == cols)
        {
            if (precision == WeightPrecision.Stored || (precision == WeightPrecision.F32 && shared.F32 is not null)) return shared;
            return WeightMatrix.Create(shared.ToF32(), rows, cols, precision);
        }
        if (precision == WeightPrecision.Stored && layout == WeightLayout.OutIn && LoadQuantized(name, outFeatures, inFeatures, what, parts, fused) is { } quantized)
            return WeightMatrix.Create(quantized);
        return WeightMatrix.Create(LoadMatrixParts(name, outFeatures, inFeatures, layout, what, parts, fused), rows, cols, precision);
    }

    /// <summary>
    /// A shard's rows as F32 [RowsHeld, InCount]: each stored range read in turn, the padding rows zero. The tensor's
    /// shape is checked before the result, sized from the config, is allocated (an intermediate_size of 6e7 is refused,
    /// not allocated).
    /// </summary>
    private float[] LoadMatrixParts(string name, int outFeatures, int inFeatures, WeightLayout layout, string what, ShardParts parts, FusedRows? fused)
    {
        if (parts.Rows is [(0, var all)] && all == outFeatures && parts.InCount == inFeatures)
            return LoadMatrix(name, outFeatures, inFeatures, layout, what, fused: fused);
        CheckShape(name, layout, StoredRows(name, outFeatures, fused, what), inFeatures, what);
        var result = new float[(long)parts.RowsHeld * parts.InCount];
        long at = 0;
        foreach (var (start, count) in parts.Rows)
        {
            if (count == 0) continue;
            var block = LoadMatrix(name, outFeatures, inFeatures, layout, what, outStart: start, outCount: count, inStart: parts.InStart, inCount: parts.InCount, fused: fused);
            block.CopyTo(result, at);
            at += block.LongLength;
        }
        return result;
    }

    /// <summary>The shard's rows as stored blocks, or null when the tensor is not quantized.</summary>
    private QuantizedRows? LoadQuantized(string name, int outFeatures, int inFeatures, string what, ShardParts shard, FusedRows? fused)
    {
        var entry = Entry(name);
        CheckShape(entry, [StoredRows(name, outFeatures, fused, what), inFeatures], what);
        int offset = fused?.Offset ?? 0, rows = shard.RowsHeld, cols = shard.InCount;
        var parts = new List<QuantizedRows>();
        foreach (var (start, count) in shard.Rows)
        {
            if (count == 0) continue;
            if (_source.ReadQuantized(entry.Name, start + offset, count, shard.InStart, cols) is not { } part) return null;
            RequireFinite(entry, part, start + offset, shard.InStart);
            parts.Add(part);
        }
        if (parts.Count == 0) return null;
        var type = parts[0].Type;
        long rowBytes = GgmlTypes.RowBytes(type, cols);
        // Rows past the tensor's (a padded vocabulary shard) are zero bytes: a zero scale, so zero values, in every ggml type.
        var data = new byte[rows * rowBytes];
        long at = 0;
        foreach (var part in parts)
        {
            part.Data.CopyTo(data, at);
            at += part.Data.LongLength;
        }
        BytesLoaded += data.LongLength;
        return new QuantizedRows(type, rows, cols, data);
    }

    /// <summary>
    /// Stored blocks are refused as F32 reads are (<see cref="ReadFinite"/>): each row's fields that can be Inf or NaN
    /// (an F16 value, a block's F16 scale: 0x7C00, 0x7E00) are read (<see cref="Dequantize.IsFinite"/>), and only a row
    /// that fails is dequantized, to name the first value that is not finite.
    /// </summary>
    private static void RequireFinite(TensorInfo entry, QuantizedRows part, long firstRow, long firstColumn)
    {
        for (int r = 0; r < part.Rows; r++)
        {
            if (Dequantize.IsFinite(part.Type, part.Row(r), part.Columns)) continue;
            var row = new float[part.Columns];
            Dequantize.Row(part.Type, part.Row(r), row);
            long at = NonFinite.IndexOf(row);
            throw NonFiniteWeight(entry, firstRow + r, firstColumn + at, row[at]);
        }
    }
}
