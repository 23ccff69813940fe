namespace Tessera;

/// <summary>
/// The keys and values of one sequence, per layer: (S, kvHeads * d) rows, S up to the context length (allocated as used).
/// <see cref="Length"/> is the number of positions already filled; a forward over a <see cref="TokenBatch"/> appends.
/// </summary>
/// <remarks>
/// A <em>shard</em> (<see cref="CreateShard"/>, sequence parallelism) holds only some positions of its sequence, those
/// its rank computed: row i ("slot" i) holds position <see cref="SlotPositions"/>[i], <see cref="Length"/> counts its
/// slots, and its storage grows with use instead of holding the whole context, so a device's KV memory is its share.
/// </remarks>
public sealed class KvCache
{
    private readonly float[][] _keys;
    private readonly float[][] _values;
    private int[]? _slotPositions; // shards only: the position each slot holds
    private readonly int _growth;  // shards only: slots added when it grows

    /// <summary>Rows a whole cache starts with; it doubles as positions are written (<see cref="ReserveRows"/>), up to the capacity.</summary>
    public const int InitialRows = 64;

    /// <summary>
    /// A whole cache: position p at row p. Its storage grows with use (from <see cref="InitialRows"/>, doubling), so a
    /// model with a context of millions of positions costs a short prompt only what the prompt fills.
    /// </summary>
    public KvCache(int layers, int capacity, int kvWidth, int firstLayer = 0)
    {
        if (layers < 0 || capacity <= 0 || kvWidth <= 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), "A KV cache needs a positive capacity and width.");
        FirstLayer = firstLayer;
        Capacity = capacity;
        KvWidth = kvWidth;
        _keys = new float[layers][];
        _values = new float[layers][];
        int rows = Math.Min(capacity, InitialRows);
        for (int l = 0; l < layers; l++)
        {
            _keys[l] = new float[(long)rows * kvWidth];
            _values[l] = new float[(long)rows * kvWidth];
        }
        _allocatedRows = rows;
    }

    private int _allocatedRows; // rows (a shard: slots) each layer's storage holds

    /// <summary>
    /// Makes a whole cache hold rows [0, <paramref name="rows"/>) in every layer, growing its storage (at least
    /// doubling, at most to the capacity). Re-fetch <see cref="Keys"/> and <see cref="Values"/> after this.
    /// </summary>
    public void ReserveRows(int rows)
    {
        if (IsShard) throw new InvalidOperationException("A shard grows through AppendSlots.");
        if (rows <= _allocatedRows) return;
        if (rows > Capacity) throw new ContextOverflowException(rows, Capacity);
        // Doubling keeps appends amortised O(1); the growth limit keeps it from overshooting what its owner budgeted.
        long doubled = Math.Min(2L * _allocatedRows, GrowthLimit);
        ResizeLayers((int)Math.Min(Capacity, Math.Max(rows, doubled)));
    }

    /// <summary>
    /// Gives a whole cache storage for <paramref name="rows"/> positions now (at most its capacity) and writes through
    /// it, so that the pages are resident before a request runs. The first write to fresh memory is a page fault per
    /// 4 KiB, and on virtual machines a page fault costs microseconds: a 134M model's first 128-token prompt spent
    /// about as long faulting in its new cache as computing. Only storage past <see cref="Length"/> is written: the
    /// positions already held stay. A handle or a shard is left as it is.
    /// </summary>
    public void Preallocate(int rows)
    {
        if (IsHandle || IsShard) return;
        ReserveRows(Math.Min(rows, Capacity));
        int held = Length * KvWidth;
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l].AsSpan(held).Clear();
            _values[l].AsSpan(held).Clear();
        }
    }

    /// <summary>
    /// The rows a whole cache grows to at most by doubling (the capacity unless set): an owner that budgets memory by
    /// positions (<see cref="Generation.BatcherLimits.KvCacheBytes"/>) sets it to the positions it counted. Rows asked
    /// for explicitly past it are still given.
    /// </summary>
    public int GrowthLimit
    {
        get => _growthLimit == 0 ? Capacity : _growthLimit;
        set => _growthLimit = value is > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A growth limit is a positive number of rows.");
    }

    private int _growthLimit;

    /// <summary>Every layer's keys and values to <paramref name="rows"/> rows (a shard: slots), what they held kept.</summary>
    private void ResizeLayers(int rows)
    {
        if ((long)rows * KvWidth > Array.MaxLength)
            throw new InvalidOperationException($"A KV cache layer of {rows} positions x {KvWidth} floats exceeds the largest array .NET allocates.");
        for (int l = 0; l < _keys.Length; l++)
        {
            Array.Resize(ref _keys[l], rows * KvWidth);
            Array.Resize(ref _values[l], rows * KvWidth);
        }
        _allocatedRows = rows;
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

    /// <summary>
    /// A shard of a sequence's cache for one rank of a sequence-parallel group: it starts with room for
    /// <paramref name="initialSlots"/> positions and grows by as many (up to <paramref name="capacity"/>) as slots are
    /// appended with <see cref="AppendSlots"/>, so it never holds more than that beyond what it uses.
    /// </summary>
    public static KvCache CreateShard(int layers, int capacity, int kvWidth, int firstLayer, int initialSlots)
    {
        if (initialSlots < 1 || initialSlots > capacity)
            throw new ArgumentOutOfRangeException(nameof(initialSlots), $"A shard starts with 1 to {capacity} slots, not {initialSlots}.");
        return new KvCache(layers, capacity, kvWidth, firstLayer, initialSlots);
    }

    private KvCache(int layers, int capacity, int kvWidth, int firstLayer, int slots)
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
            _keys[l] = new float[(long)slots * kvWidth];
            _values[l] = new float[(long)slots * kvWidth];
        }
        _slotPositions = new int[slots];
        _allocatedRows = slots;
        _growth = slots;
    }

    /// <summary>True for a shard (<see cref="CreateShard"/>): slot i holds position <see cref="SlotPositions"/>[i].</summary>
    public bool IsShard => _slotPositions is not null;

    /// <summary>A shard's positions, one per filled slot (<see cref="Length"/> of them), in the order they were appended.</summary>
    public ReadOnlySpan<int> SlotPositions => _slotPositions is { } positions ? positions.AsSpan(0, Length) : throw new InvalidOperationException("Only a shard has slot positions; a whole cache holds position p at row p.");

    /// <summary>The positions of a shard's first <paramref name="slots"/> slots: the committed ones and those appended by the batch in flight.</summary>
    public ReadOnlySpan<int> SlotPositionsUpTo(int slots)
    {
        var positions = _slotPositions ?? throw new InvalidOperationException("Only a shard has slot positions; a whole cache holds position p at row p.");
        if (slots < 0 || slots > positions.Length) throw new ArgumentOutOfRangeException(nameof(slots), $"The shard has room for {positions.Length} slots, not {slots}.");
        return positions.AsSpan(0, slots);
    }

    /// <summary>
    /// Makes room in a shard for the positions <paramref name="positions"/> after its <see cref="Length"/> slots and
    /// records them (for every layer: the caller then writes each layer's keys and values at slots Length..); the
    /// slots count once the batch commits. Returns the first new slot. Re-fetch <see cref="Keys"/> after this: the
    /// storage may have grown.
    /// </summary>
    public int AppendSlots(ReadOnlySpan<int> positions)
    {
        var slots = _slotPositions ?? throw new InvalidOperationException("Only a shard appends slots; a whole cache writes position p at row p.");
        int needed = Length + positions.Length;
        if (needed > Capacity) throw new ContextOverflowException(needed, Capacity);
        if (needed > slots.Length)
        {
            int grown = (int)Math.Min(Capacity, Math.Max(needed, (long)slots.Length + _growth));
            Array.Resize(ref _slotPositions, grown);
            ResizeLayers(grown);
        }
        positions.CopyTo(_slotPositions.AsSpan(Length));
        return Length;
    }

    /// <summary>
    /// Forgets every position from <paramref name="length"/> on: <see cref="Truncate"/> for a whole cache; a shard drops
    /// the slots holding such positions and closes the gaps.
    /// </summary>
    public void RewindTo(int length)
    {
        if (_slotPositions is not { } positions)
        {
            if (length < Length) Truncate(length);
            return;
        }
        int kept = 0;
        for (int slot = 0; slot < Length; slot++)
        {
            if (positions[slot] >= length) continue;
            if (kept != slot)
            {
                positions[kept] = positions[slot];
                for (int l = 0; l < _keys.Length; l++)
                {
                    Array.Copy(_keys[l], (long)slot * KvWidth, _keys[l], (long)kept * KvWidth, KvWidth);
                    Array.Copy(_values[l], (long)slot * KvWidth, _values[l], (long)kept * KvWidth, KvWidth);
                }
            }
            kept++;
        }
        Length = kept;
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

    /// <summary>Bytes held by keys and values: what the cache has allocated so far.</summary>
    public long Bytes => 2L * Layers * _allocatedRows * KvWidth * sizeof(float);

    public float[] Keys(int layer) => _keys[layer - FirstLayer];

    public float[] Values(int layer) => _values[layer - FirstLayer];

    /// <summary>Forgets the positions from <paramref name="length"/> on (rewinds the sequence), e.g. to re-run a step.</summary>
    public void Truncate(int length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), $"A cache of {Length} positions cannot be truncated to {length}.");
        Length = length;
    }

    /// <summary>
    /// The cache a rank program makes for one sequence: the whole sequence's (<paramref name="sequenceDegree"/> 1), or
    /// this rank's shard of it under sequence parallelism, starting with room for its share of the context.
    /// </summary>
    public static KvCache Create(int layers, int capacity, int kvWidth, int firstLayer, int sequenceDegree) =>
        sequenceDegree <= 1
            ? new KvCache(layers, capacity, kvWidth, firstLayer)
            : CreateShard(layers, capacity, kvWidth, firstLayer, Math.Min(capacity, Math.Max(16, (capacity + 4 * sequenceDegree - 1) / (4 * sequenceDegree))));

    /// <summary>
    /// Makes this whole cache hold exactly the positions <paramref name="source"/> holds (its keys and values copied),
    /// growing as needed. Returns false, changing nothing, when either is a handle or a shard, or their layers or widths
    /// differ: only whole caches in host memory can be copied so.
    /// </summary>
    public bool TryCopyFrom(KvCache source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (IsHandle || IsShard || source.IsHandle || source.IsShard) return false;
        if (source.Layers != Layers || source.KvWidth != KvWidth || source.FirstLayer != FirstLayer || source.Length > Capacity) return false;
        ReserveRows(source.Length);
        int floats = source.Length * KvWidth;
        for (int l = 0; l < _keys.Length; l++)
        {
            Array.Copy(source._keys[l], _keys[l], floats);
            Array.Copy(source._values[l], _values[l], floats);
        }
        Length = source.Length;
        return true;
    }

    /// <summary>Forgets every position (the buffers are reused).</summary>
    public void Reset() => Length = 0;
}
