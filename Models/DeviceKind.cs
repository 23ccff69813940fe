namespace Tessera.Models;

/// <summary>Where the ranks of an engine run.</summary>
public enum DeviceKind
{
    /// <summary>CPU virtual devices: one worker thread each.</summary>
    Cpu,

    /// <summary>CUDA GPUs through ILGPU: each virtual device a stream; several may share one physical GPU.</summary>
    Cuda,

    /// <summary>
    /// The GPU back end on ILGPU's CPU accelerator: the same generated rank programs, kernels, buffers and launches as
    /// <see cref="Cuda"/> (the products on the runtime's kernels instead of cuBLAS), for checking them where there is
    /// no GPU. Slow: groups, barriers and warps are emulated with threads.
    /// </summary>
    IlgpuCpu,
}
