namespace Tessera.Cpu;

/// <summary>
/// CPU kernels called by generated engines. Shapes: T = rows (tokens), K = input features, N = output features.
/// All tensors are row-major float arrays; a kernel touches only the first rows * width elements.
/// </summary>
/// <remarks>
/// One file per kernel family (MatMul*.cs, Norms.cs, Rope.cs, Attention.cs, Gather.cs). Kernels split work over at
/// most <see cref="MaxThreads"/> threads and run small work inline, so a decode step on a tiny model does not pay
/// for thread wake-ups. Results equal the plain loops in the XML docs up to float summation order.
/// </remarks>
public static partial class CpuKernels
{
    private static int _maxThreads = Environment.ProcessorCount;

    /// <summary>
    /// The most threads one kernel call uses (default: <see cref="Environment.ProcessorCount"/>). Set it to 1 when
    /// the caller already runs one kernel per core (CPU virtual devices, pipeline workers).
    /// </summary>
    public static int MaxThreads
    {
        get => _maxThreads;
        set => _maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "At least one thread is needed.");
    }

    [ThreadStatic] private static int t_threadsOfThisThread;

    /// <summary>
    /// A per-thread cap on <see cref="MaxThreads"/> (0: none). A CPU virtual device sets it on its worker to its share
    /// of the cores, so D devices running kernels at once do not oversubscribe the machine D times over.
    /// </summary>
    public static int ThreadsOfThisThread
    {
        get => t_threadsOfThisThread;
        set => t_threadsOfThisThread = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    /// <summary>The threads a kernel called on this thread may use.</summary>
    internal static int ThreadBudget => t_threadsOfThisThread > 0 ? Math.Min(t_threadsOfThisThread, _maxThreads) : _maxThreads;

    /// <summary>Throws when a kernel argument array is shorter than the shape says: the fast paths index without bounds checks.</summary>
    private static void CheckLength(float[] array, long needed, string name)
    {
        ArgumentNullException.ThrowIfNull(array, name);
        if (array.LongLength < needed)
            throw new ArgumentException($"{name} holds {array.LongLength} elements but the shape needs {needed}.", name);
    }
}
