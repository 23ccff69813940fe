namespace Tessera.Cuda;

/// <summary>A grid or block size, as CUDA's dim3; an <see cref="int"/> converts to (x, 1, 1).</summary>
/// <param name="X">Extent in x.</param>
/// <param name="Y">Extent in y.</param>
/// <param name="Z">Extent in z.</param>
public readonly record struct Dim3(uint X, uint Y = 1, uint Z = 1)
{
    /// <summary>(x, 1, 1).</summary>
    public static implicit operator Dim3(int x) => new(checked((uint)x));

    /// <summary>"(x, y, z)".</summary>
    public override string ToString() => $"({X}, {Y}, {Z})";
}
