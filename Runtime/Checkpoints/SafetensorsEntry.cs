using System.IO.MemoryMappedFiles;

namespace Tessera.Checkpoints;

/// <summary>One entry of a safetensors header.</summary>
/// <param name="Name">the tensor's name</param>
/// <param name="DType">the dtype string as written ("F32", "BF16", ...)</param>
/// <param name="Shape">dimensions</param>
/// <param name="Begin">byte offset of the data, relative to the data section</param>
/// <param name="End">end offset (exclusive)</param>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    /// <summary>The product of the dimensions; throws <see cref="OverflowException"/> past long.MaxValue (a corrupt header).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
