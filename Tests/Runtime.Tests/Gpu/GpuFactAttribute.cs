using Tessera.Gpu;

namespace Tessera.Runtime.Tests.Gpu;

/// <summary>A fact that needs a CUDA GPU (through ILGPU): skipped, with the reason, where there is none.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (GpuDevice.CudaDeviceCount(out var reason) == 0) Skip = $"no usable GPU: {reason}";
    }
}
