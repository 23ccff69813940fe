namespace Tessera.Cuda;

/// <summary>A kernel entry point in a loaded <see cref="CudaModule"/>.</summary>
/// <param name="Handle">The CUfunction.</param>
/// <param name="Name">The PTX entry name (unmangled for <c>extern "C"</c> kernels).</param>
public readonly record struct CudaFunction(IntPtr Handle, string Name)
{
    /// <summary>The entry name.</summary>
    public override string ToString() => Name;
}
