namespace Tessera;

/// <summary>
/// The keys and values of one sequence, per layer: (S, kvHeads * d) rows, S = the context length.
/// <see cref="Length"/> is the number of positions already filled; a forward over a <see cref="TokenBatch"/> appends.
/// </summary>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;

    public KvCache(int layers, int capacity, int kvWidth, int firstLayer = 0)
    {
        if (layers < 0 || capacity <= 0 || kvWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), "A KV cache needs a positive capacity and width.");
        FirstLayer = firstLayer;
        Capacity = capacity;
        KvWidth = kvWidth;
        _keys = new float[layers][];
        _values = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[capacity * kvWidth];
            _values[l] = new float[capacity * kvWidth];
        }
    }

    /// <summary>
    /// A cache that holds no keys or values, only <see cref="Length"/> and <see cref="Capacity"/>: what an engine that
    /// keeps the real caches elsewhere (a parallel engine: one rank-local cache per device) hands to its callers.
    /// </summary>
    public static KvCache CreateHandle(int capacity) => new(capacity);

    private KvCache(int capacity)
    {
        if (capacity <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), "A KV cache needs a positive capacity.");
        Capacity = capacity;
        _keys = [];
        _values = [];
    }

    /// <summary>True for a cache made by <see cref="CreateHandle"/>: it tracks positions but stores nothing.</summary>
    public bool IsHandle => KvWidth == 0;

    /// <summary>The index of the first model layer this cache holds (a pipeline stage holds a contiguous block).</summary>
    public int FirstLayer { get; }

    public int Layers => _keys.Length;

    /// <summary>The most positions the cache can hold (the model's context length).</summary>
    public int Capacity { get; }

    /// <summary>kvHeads * headDim.</summary>
    public int KvWidth { get; }

    /// <summary>Positions filled so far.</summary>
    public int Length { get; internal set; }

    /// <summary>Bytes held by keys and values.</summary>
    public long Bytes => 2L * Layers * Capacity * KvWidth * sizeof(float);

    public float[] Keys(int layer) => _keys[layer - FirstLayer];

    public float[] Values(int layer) => _values[layer - FirstLayer];

    /// <summary>Forgets the positions from <paramref name="length"/> on (rewinds the sequence), e.g. to re-run a step.</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"A cache of {Length} positions cannot be truncated to {length}.");
        Length = length;
    }

    /// <summary>Forgets every position (the buffers are reused).</summary>
    public void Reset() => Length = 0;
}
