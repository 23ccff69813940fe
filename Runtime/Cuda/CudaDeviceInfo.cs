namespace Tessera.Cuda;

/// <summary>One physical GPU as the driver describes it.</summary>
/// <param name="Ordinal">The driver's device ordinal (0-based, in CUDA_VISIBLE_DEVICES order).</param>
/// <param name="Name">e.g. "NVIDIA H100 80GB HBM3".</param>
/// <param name="TotalMemory">Device memory in bytes.</param>
/// <param name="ComputeMajor">Compute capability, major (9 for Hopper).</param>
/// <param name="ComputeMinor">Compute capability, minor.</param>
/// <param name="Multiprocessors">Streaming multiprocessor count, for sizing grids.</param>
public sealed record CudaDeviceInfo(int Ordinal, string Name, long TotalMemory, int ComputeMajor, int ComputeMinor, int Multiprocessors)
{
    /// <summary>The virtual architecture to compile for with NVRTC, e.g. "compute_90".</summary>
    public string Architecture => $"compute_{ComputeMajor}{ComputeMinor}";

    /// <summary>"cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB, 132 SMs)".</summary>
    public override string ToString() =>
        $"cuda:{Ordinal} {Name} (sm_{ComputeMajor}{ComputeMinor}, {TotalMemory / (1024.0 * 1024 * 1024):0.0} GiB, {Multiprocessors} SMs)";
}
