namespace Tessera.Cpu;

/// <summary>
/// CPU kernels called by generated engines. Shapes: T = rows (tokens), K = input features, N = output features.
/// All tensors are row-major float arrays; a kernel touches only the first rows * width elements.
/// </summary>
/// <remarks>
/// One file per kernel family (MatMul*.cs, Norms.cs, Rope.cs, Attention.cs, Gather.cs). Kernels that split work take
/// the <see cref="CpuExecution"/> of their device first (at most its threads) and run small work inline, so a decode
/// step on a tiny model does not pay for thread wake-ups. Results equal the plain loops in the XML docs up to float
/// summation order.
/// </remarks>
public static partial class CpuKernels
{
    /// <summary>Throws when a kernel argument array is shorter than the shape says: the fast paths index without bounds checks.</summary>
    private static void CheckLength(float[] array, long needed, string name)
    {
        ArgumentNullException.ThrowIfNull(array, name);
        if (array.LongLength < needed)
            throw new ArgumentException($"{name} holds {array.LongLength} elements but the shape needs {needed}.", name);
    }
}
