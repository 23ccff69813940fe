using Tessera.Cpu;
using Tessera.Quantization;

namespace Tessera.Checkpoints;

/// <summary>Which part of a matrix a rank loads (the tensor-parallel slices of <see cref="Checkpoint"/>'s F32 loaders).</summary>
public readonly record struct WeightShard(WeightShardKind Kind, int Rank = 0, int Degree = 1, int Groups = 1, int Heads = 1)
{
    public static WeightShard Whole => new(WeightShardKind.Whole);

    /// <summary>Column-parallel: the output features split, each of <paramref name="groups"/> equal blocks on its own (<see cref="Checkpoint.LoadMatrixRowShard"/>).</summary>
    public static WeightShard Rows(int groups, int rank, int degree) => new(WeightShardKind.Rows, rank, degree, Groups: groups);

    /// <summary>The rows of the key/value heads this rank reads (<see cref="Checkpoint.LoadMatrixHeadShard"/>).</summary>
    public static WeightShard HeadRows(int heads, int rank, int degree) => new(WeightShardKind.HeadRows, rank, degree, Heads: heads);

    /// <summary>Vocab-parallel rows, zero-padded to ceil(out / degree) (<see cref="Checkpoint.LoadMatrixPaddedRowShard"/>).</summary>
    public static WeightShard PaddedRows(int rank, int degree) => new(WeightShardKind.PaddedRows, rank, degree);

    /// <summary>Row-parallel: the input features split (<see cref="Checkpoint.LoadMatrixColumnShard"/>).</summary>
    public static WeightShard Columns(int rank, int degree) => new(WeightShardKind.Columns, rank, degree);
}

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
        var (rows, cols) = ShardSize(outFeatures, inFeatures, shard);
        if (shared is not null && shared.Rows == rows && shared.Cols == cols)
        {
            if (precision == WeightPrecision.Stored || (precision == WeightPrecision.F32 && shared.F32 is not null)) return shared;
            return WeightMatrix.Create(shared.ToF32(), rows, cols, precision);
        }
        if (precision == WeightPrecision.Stored && layout == WeightLayout.OutIn && LoadQuantized(name, outFeatures, inFeatures, what, shard, fused, rows, cols) is { } quantized)
            return WeightMatrix.Create(quantized);
        var data = shard.Kind switch
        {
            WeightShardKind.Rows => LoadMatrixRowShard(name, outFeatures, inFeatures, layout, what, shard.Groups, shard.Rank, shard.Degree, fused),
            WeightShardKind.HeadRows => LoadMatrixHeadShard(name, outFeatures, inFeatures, layout, what, shard.Heads, shard.Rank, shard.Degree, fused),
            WeightShardKind.PaddedRows => LoadMatrixPaddedRowShard(name, outFeatures, inFeatures, layout, what, shard.Rank, shard.Degree, fused),
            WeightShardKind.Columns => LoadMatrixColumnShard(name, outFeatures, inFeatures, layout, what, shard.Rank, shard.Degree, fused),
            _ => LoadMatrix(name, outFeatures, inFeatures, layout, what, fused: fused),
        };
        return WeightMatrix.Create(data, rows, cols, precision);
    }

    /// <summary>(rows, columns) a rank holds of an (out, in) matrix.</summary>
    private static (int Rows, int Cols) ShardSize(int outFeatures, int inFeatures, WeightShard shard) => shard.Kind switch
    {
        _ when shard.Degree == 1 => (outFeatures, inFeatures),
        WeightShardKind.Rows => (outFeatures / shard.Degree, inFeatures),
        WeightShardKind.HeadRows => ((shard.Heads + shard.Degree - 1) / shard.Degree * (outFeatures / shard.Heads), inFeatures),
        WeightShardKind.PaddedRows => ((outFeatures + shard.Degree - 1) / shard.Degree, inFeatures),
        WeightShardKind.Columns => (outFeatures, inFeatures / shard.Degree),
        _ => (outFeatures, inFeatures),
    };

    /// <summary>The shard's rows as stored blocks, or null when the tensor is not quantized or the shard cuts its blocks.</summary>
    private QuantizedRows? LoadQuantized(string name, int outFeatures, int inFeatures, string what, WeightShard shard, FusedRows? fused, int rows, int cols)
    {
        var entry = Entry(name);
        CheckShape(entry, [StoredRows(name, outFeatures, fused, what), inFeatures], what);
        int offset = fused?.Offset ?? 0;
        // The row ranges this rank holds, in order, and the columns.
        var ranges = new List<(int Start, int Count)>();
        int inStart = 0;
        switch (shard.Kind)
        {
            case var _ when shard.Degree == 1:
                ranges.Add((0, outFeatures));
                break;
            case WeightShardKind.Rows:
                {
                    int block = outFeatures / shard.Groups, part = block / shard.Degree;
                    for (int g = 0; g < shard.Groups; g++) ranges.Add((g * block + shard.Rank * part, part));
                    break;
                }
            case WeightShardKind.HeadRows:
                {
                    int headSize = outFeatures / shard.Heads, first = (int)((long)shard.Rank * shard.Heads / shard.Degree);
                    ranges.Add((first * headSize, rows));
                    break;
                }
            case WeightShardKind.PaddedRows:
                {
                    int start = Math.Min(outFeatures, shard.Rank * rows);
                    ranges.Add((start, Math.Min(rows, outFeatures - start)));
                    break;
                }
            case WeightShardKind.Columns:
                ranges.Add((0, outFeatures));
                inStart = shard.Rank * cols;
                break;
        }
        var parts = new List<QuantizedRows>();
        foreach (var (start, count) in ranges)
        {
            if (count == 0) continue;
            if (_source.ReadQuantized(entry.Name, start + offset, count, inStart, cols) is not { } part) return null;
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
}
