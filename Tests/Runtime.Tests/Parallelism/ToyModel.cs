using Tessera.Checkpoints;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Parallelism;

/// <summary>
/// A tiny model on disk (config.json + model.safetensors) for the parallel engine's tests: integer weights, so every
/// sum is exact and any plan must give bit-identical logits to the single rank.
/// </summary>
public sealed class ToyCheckpoint : IDisposable
{
    public const int Vocab = 8, Width = 8, Hidden = 8, Layers = 4, Context = 16;

    public ToyCheckpoint()
    {
        Directory = Path.Combine(Path.GetTempPath(), "tessera-par-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        File.WriteAllText(Path.Combine(Directory, "config.json"),
            $$"""{"model_type": "toy", "vocab_size": {{Vocab}}, "hidden_size": {{Width}}, "intermediate_size": {{Hidden}}, "num_hidden_layers": {{Layers}}, "max_position_embeddings": {{Context}}}""");
        var random = new Random(42);
        float[] Ints(int count, int low, int high) => Enumerable.Range(0, count).Select(_ => (float)random.Next(low, high + 1)).ToArray();
        var tensors = new List<SafetensorsWriter.Tensor> { new("embed.weight", [Vocab, Width], Ints(Vocab * Width, -3, 3)) };
        for (int l = 0; l < Layers; l++)
        {
            tensors.Add(new($"layers.{l}.up.weight", [Hidden, Width], Ints(Hidden * Width, -1, 1)));
            tensors.Add(new($"layers.{l}.down.weight", [Width, Hidden], Ints(Width * Hidden, -1, 1)));
        }
        tensors.Add(new("head.weight", [Vocab, Width], Ints(Vocab * Width, -1, 1)));
        SafetensorsWriter.Write(Path.Combine(Directory, "model.safetensors"), tensors);
    }

    public string Directory { get; }

    public static ModelFacts Facts(ModelConfig config)
    {
        int v = config.GetInt("vocab_size", "Vocab"), c = config.GetInt("hidden_size", "Width");
        int h = config.GetInt("intermediate_size", "Hidden"), l = config.GetInt("num_hidden_layers", "Layers");
        return new ModelFacts("Toy", l, 2.0 * 2 * c * h, 2L * c * h * 4, (long)v * c * 4, 2.0 * v * c, (long)v * c * 4, 2L * c * 4, c, v,
            config.GetInt("max_position_embeddings", "Context"), [("Width", c), ("Hidden", h), ("Vocab", v)]);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// A hand-written stand-in for a generated rank program. Per layer: each rank stores its column slice of x in its KV
/// cache, sums the cached slices over positions 0..pos (a causal "attention"), all-gathers the columns, then a
/// column-parallel up (ReLU) and a row-parallel down whose partial sums are all-reduced; x wraps to [-32, 32) so values
/// stay small integers. The head is vocab-sharded and all-gathered. Stages receive / send x through their links.
/// </summary>
public sealed class ToyRankProgram : IRankProgram
{
    private readonly int _first, _end, _t, _tensor, _colWidth, _hidWidth, _vocabWidth;
    private readonly float[]? _embed, _head;
    private readonly float[][] _up, _down;
    private readonly Func<RankContext, int, bool>? _fail;
    private int _calls;

    public ToyRankProgram(Checkpoint checkpoint, RankContext context, Func<RankContext, int, bool>? fail = null)
    {
        Context = context;
        _fail = fail;
        const int v = ToyCheckpoint.Vocab, c = ToyCheckpoint.Width, h = ToyCheckpoint.Hidden;
        _first = context.FirstLayer;
        _end = context.EndLayer < 0 ? ToyCheckpoint.Layers : context.EndLayer;
        _t = context.TensorDegree;
        _tensor = context.TensorRank;
        _colWidth = c / _t;
        _hidWidth = h / _t;
        _vocabWidth = v / _t;
        if (context.IsFirstStage) _embed = checkpoint.LoadMatrix("embed.weight", v, c, WeightLayout.OutIn, "Vocab x Width");
        _up = new float[_end - _first][];
        _down = new float[_end - _first][];
        for (int l = _first; l < _end; l++)
        {
            _up[l - _first] = checkpoint.LoadMatrix($"layers.{l}.up.weight", h, c, WeightLayout.OutIn, "Hidden x Width", outStart: _tensor * _hidWidth, outCount: _hidWidth);
            _down[l - _first] = checkpoint.LoadMatrix($"layers.{l}.down.weight", c, h, WeightLayout.OutIn, "Width x Hidden", inStart: _tensor * _hidWidth, inCount: _hidWidth);
        }
        if (context.IsLastStage) _head = checkpoint.LoadMatrix("head.weight", v, c, WeightLayout.OutIn, "Vocab x Width", outStart: _tensor * _vocabWidth, outCount: _vocabWidth);
        WeightBytes = 4L * ((_embed?.Length ?? 0) + (_head?.Length ?? 0) + _up.Sum(u => u.Length) + _down.Sum(d => d.Length));
    }

    public RankContext Context { get; }

    public long WeightBytes { get; }

    public long WorkspaceBytes => 4L * ToyCheckpoint.Context * (ToyCheckpoint.Width + ToyCheckpoint.Hidden);

    public KvCache CreateCache() => new(_end - _first, ToyCheckpoint.Context, _colWidth, _first);

    public float[]? RunStage(TokenBatch batch)
    {
        if (_fail?.Invoke(Context, _calls++) == true) throw new InvalidOperationException($"boom on rank {Context.Rank}");
        const int c = ToyCheckpoint.Width, v = ToyCheckpoint.Vocab;
        int rows = batch.Rows;
        float[] x;
        if (Context.IsFirstStage)
        {
            x = new float[rows * c];
            for (int r = 0; r < rows; r++) Array.Copy(_embed!, batch.Tokens[r] * c, x, r * c, c);
        }
        else
        {
            x = Context.Previous!.Receive(rows * c)[..(rows * c)];
        }

        var ctxLocal = new float[rows * _colWidth];
        var ctxFull = new float[rows * c];
        var hidden = new float[rows * _hidWidth];
        var partial = new float[rows * c];
        for (int l = _first; l < _end; l++)
        {
            for (int r = 0; r < rows; r++)
            {
                batch.Caches[batch.SequenceOfRow[r]].ReserveRows(batch.Positions[r] + 1);
                Array.Copy(x, r * c + _tensor * _colWidth, batch.Caches[batch.SequenceOfRow[r]].Keys(l), batch.Positions[r] * _colWidth, _colWidth);
            }
            for (int r = 0; r < rows; r++)
            {
                var keys = batch.Caches[batch.SequenceOfRow[r]].Keys(l);
                for (int j = 0; j < _colWidth; j++)
                {
                    float sum = 0;
                    for (int p = 0; p <= batch.Positions[r]; p++) sum += keys[p * _colWidth + j];
                    ctxLocal[r * _colWidth + j] = sum;
                }
            }
            Context.Tensor.AllGatherColumns(ctxLocal, rows, _colWidth, ctxFull);
            var up = _up[l - _first];
            var down = _down[l - _first];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < _hidWidth; o++)
                    hidden[r * _hidWidth + o] = Math.Max(0, Dot(up, o * c, ctxFull, r * c, c));
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < c; o++)
                    partial[r * c + o] = Dot(down, o * _hidWidth, hidden, r * _hidWidth, _hidWidth);
            Context.Tensor.AllReduceSum(partial, rows * c);
            for (int i = 0; i < rows * c; i++)
            {
                float y = x[i] + partial[i];
                x[i] = y - 64 * MathF.Floor((y + 32) / 64); // wrap to [-32, 32): exact, and no saturation to hide a wrong sum
            }
        }

        float[]? logits = null;
        if (Context.IsLastStage)
        {
            var wanted = batch.LogitRows;
            var local = new float[wanted.Length * _vocabWidth];
            for (int i = 0; i < wanted.Length; i++)
                for (int o = 0; o < _vocabWidth; o++)
                    local[i * _vocabWidth + o] = Dot(_head!, o * c, x, wanted[i] * c, c);
            logits = new float[wanted.Length * v];
            Context.Tensor.AllGatherColumns(local, wanted.Length, _vocabWidth, logits);
        }
        else
        {
            Context.Next!.Send(x, rows * c);
        }
        batch.Commit();
        return logits;
    }

    private static float Dot(float[] a, int aOffset, float[] b, int bOffset, int n)
    {
        float sum = 0;
        for (int k = 0; k < n; k++) sum += a[aOffset + k] * b[bOffset + k];
        return sum;
    }
}
