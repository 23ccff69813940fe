using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// A fact that needs a usable GPU (libcuda, cuInit, a device), and with <paramref name="needsNvrtc"/> NVRTC as well,
/// to compile its kernels: skipped, with the reason, elsewhere (STYLE.md R11: CUDA tests skip, the CPU path always runs).
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <param name="needsNvrtc">Whether the test compiles kernels.</param>
    public GpuFactAttribute(bool needsNvrtc = false)
    {
        if (!CudaProbe.TryGetDevice(out var reason)) Skip = $"no usable GPU: {reason}";
        else if (needsNvrtc && TestNvrtc.SkipReason is { } nvrtc) Skip = nvrtc;
    }
}
