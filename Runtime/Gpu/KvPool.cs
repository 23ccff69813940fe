using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace Tessera.Gpu;

/// <summary>
/// A stage's KV cache in device memory: one pool of keys and one of values, a slot per live sequence (its layers x
/// capacity x kvWidth floats). A sequence takes a slot on its first forward; the slots of sequences whose handles
/// were collected are reused; when none is free the pool doubles (copying what it holds).
/// </summary>
internal sealed class KvPool : IDisposable
{
    private readonly Accelerator _accelerator;
    private readonly AcceleratorStream _stream;
    private readonly int _layers, _kvWidth;
    private readonly ConditionalWeakTable<KvCache, object> _slotOf = new();
    private readonly List<(WeakReference<KvCache> Owner, int Slot)> _leases = new();
    private readonly Stack<int> _free = new();
    private MemoryBuffer1D<float, Stride1D.Dense>? _keys, _values;
    private int _capacity, _slots;

    public KvPool(Accelerator accelerator, AcceleratorStream stream, int layers, int kvWidth)
    {
        _accelerator = accelerator;
        _stream = stream;
        _layers = layers;
        _kvWidth = kvWidth;
    }

    /// <summary>Floats of one sequence's slot.</summary>
    public long SlotFloats => (long)_layers * _capacity * _kvWidth;

    /// <summary>Device bytes of the pool.</summary>
    public long Bytes => 2L * SlotFloats * _slots * sizeof(float);

    /// <summary>The slot of <paramref name="handle"/>'s sequence, taking one on its first use.</summary>
    public int SlotOf(KvCache handle)
    {
        if (_slotOf.TryGetValue(handle, out var boxed)) return (int)boxed;
        if (_capacity == 0) _capacity = Math.Max(1, handle.Capacity);
        else if (handle.Capacity > _capacity)
            throw new InvalidOperationException($"A sequence of {handle.Capacity} positions does not fit this stage's cache slots of {_capacity}.");
        if (_free.Count == 0) FreeCollectedSlots();
        if (_free.Count == 0) Grow();
        int slot = _free.Pop();
        _slotOf.Add(handle, slot);
        _leases.Add((new WeakReference<KvCache>(handle), slot));
        return slot;
    }

    /// <summary>The pool as a kernel sees layer <paramref name="layerIndex"/> (of this stage) for rows in <paramref name="slotOfRow"/>.</summary>
    public KvCacheView View(ArrayView<int> slotOfRow, int layerIndex) =>
        new(_keys!.View, _values!.View, slotOfRow, SlotFloats, (long)layerIndex * _capacity * _kvWidth);

    private void FreeCollectedSlots()
    {
        for (int i = _leases.Count - 1; i >= 0; i--)
        {
            if (_leases[i].Owner.TryGetTarget(out _)) continue;
            _free.Push(_leases[i].Slot);
            _leases.RemoveAt(i);
        }
    }

    private void Grow()
    {
        int slots = Math.Max(2, _slots * 2);
        var keys = _accelerator.Allocate1D<float>(slots * SlotFloats);
        var values = _accelerator.Allocate1D<float>(slots * SlotFloats);
        if (_keys is not null)
        {
            keys.View.SubView(0, _keys.Length).CopyFrom(_stream, _keys.View);
            values.View.SubView(0, _values!.Length).CopyFrom(_stream, _values.View);
            _stream.Synchronize();
            _keys.Dispose();
            _values.Dispose();
        }
        (_keys, _values) = (keys, values);
        for (int s = slots - 1; s >= _slots; s--) _free.Push(s);
        _slots = slots;
    }

    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
    }
}
