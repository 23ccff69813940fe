namespace Tessera.Models;

/// <summary>Where the ranks of an engine run.</summary>
public enum DeviceKind
{
    /// <summary>CPU virtual devices: one worker thread each.</summary>
    Cpu,

    /// <summary>CUDA devices: each virtual device a context and stream; several may share one physical GPU.</summary>
    Cuda,

    /// <summary>
    /// The CUDA back end on the CPU emulator (kernels compiled by g++, cuBLAS emulated): the same generated rank
    /// programs, buffers and launches as <see cref="Cuda"/>, for checking them where there is no GPU. Slow.
    /// </summary>
    CudaEmulator,
}
