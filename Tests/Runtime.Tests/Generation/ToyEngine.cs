using System.Runtime.CompilerServices;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>
/// A deterministic stand-in for a model: the next token of a sequence is a function of its previous tokens only
/// (<see cref="Next"/>), with a peaked distribution around it, so batching cannot change any sequence's output.
/// Records every batch it ran.
/// </summary>
internal sealed class ToyEngine(int vocab = 300, int context = 32, Func<IReadOnlyList<int>, int>? rule = null) : ITransformerEngine
{
    private readonly ConditionalWeakTable<KvCache, List<int>> _history = new();
    private readonly Func<IReadOnlyList<int>, int> _rule = rule ?? (tokens => (tokens[^1] * 7 + tokens.Count) % 250);

    public ModelShape Shape { get; } = new("Toy", vocab, context, 1, 4, 4);

    public long WeightBytes => 1000;

    /// <summary>Per forward: the number of rows of each sequence.</summary>
    public List<int[]> Batches { get; } = [];

    /// <summary>Called at the start of each forward (tests block or throw here).</summary>
    public Action<TokenBatch>? OnForward { get; set; }

    public int Next(IReadOnlyList<int> tokens) => _rule(tokens);

    /// <summary>Called before each cache is made (tests throw here, as a failed allocation would).</summary>
    public Action? OnCreateCache { get; set; }

    public KvCache CreateCache()
    {
        OnCreateCache?.Invoke();
        return KvCache.CreateHandle(Shape.ContextLength);
    }

    /// <summary>Copies are counted, and copy the sequence's history (its "keys and values").</summary>
    public int CacheCopies { get; private set; }

    /// <summary>False: the engine cannot copy its caches (as a parallel engine's handles), so every choice runs its prompt.</summary>
    public bool CanCopyCaches { get; set; } = true;

    public bool TryCopyCache(KvCache source, KvCache destination)
    {
        if (!CanCopyCaches) return false;
        var history = _history.GetValue(destination, _ => []);
        history.Clear();
        history.AddRange(_history.GetValue(source, _ => []).Take(source.Length));
        destination.Length = source.Length;
        CacheCopies++;
        return true;
    }

    public float[] Forward(TokenBatch batch)
    {
        OnForward?.Invoke(batch);
        var rows = new int[batch.Caches.Length];
        foreach (int s in batch.SequenceOfRow) rows[s]++;
        lock (Batches) Batches.Add(rows);
        var logits = new float[batch.LogitRows.Length * Shape.VocabSize];
        for (int r = 0; r < batch.Rows; r++)
        {
            var cache = batch.Caches[batch.SequenceOfRow[r]];
            var history = _history.GetValue(cache, _ => []);
            if (history.Count > batch.Positions[r]) history.RemoveRange(batch.Positions[r], history.Count - batch.Positions[r]); // a reset cache
            history.Add(batch.Tokens[r]);
        }
        for (int i = 0; i < batch.LogitRows.Length; i++)
        {
            int row = batch.LogitRows[i];
            var history = _history.GetValue(batch.Caches[batch.SequenceOfRow[row]], _ => []);
            int next = Next(history.Take(batch.Positions[row] + 1).ToArray()); // the tokens up to this row's
            for (int v = 0; v < Shape.VocabSize; v++) logits[i * Shape.VocabSize + v] = -0.5f * Math.Abs(v - next);
        }
        batch.Commit();
        return logits;
    }

    /// <summary>What generating alone gives: the rule applied token by token.</summary>
    public int[] Expected(int[] prompt, int count)
    {
        var tokens = prompt.ToList();
        var output = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int next = Next(tokens);
            output.Add(next);
            tokens.Add(next);
        }
        return output.ToArray();
    }
}
