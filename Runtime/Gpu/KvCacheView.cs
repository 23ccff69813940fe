using ILGPU;

namespace Tessera.Gpu;

/// <summary>
/// The keys and values of one layer for the rows of a batch, as a kernel parameter: the stage's cache pool (every
/// sequence a slot of layers x capacity x kvWidth floats) and each row's slot, so one launch serves rows of many
/// sequences without a per-layer upload.
/// </summary>
public readonly struct KvCacheView
{
    public readonly ArrayView<float> Keys;
    public readonly ArrayView<float> Values;
    public readonly ArrayView<int> SlotOfRow;
    public readonly long SlotFloats;
    public readonly long LayerOffset;

    public KvCacheView(ArrayView<float> keys, ArrayView<float> values, ArrayView<int> slotOfRow, long slotFloats, long layerOffset)
    {
        Keys = keys;
        Values = values;
        SlotOfRow = slotOfRow;
        SlotFloats = slotFloats;
        LayerOffset = layerOffset;
    }

    /// <summary>Where position 0 of this layer's (capacity, kvWidth) block of <paramref name="row"/>'s sequence starts.</summary>
    public long RowBase(int row) => SlotOfRow[row] * SlotFloats + LayerOffset;
}
