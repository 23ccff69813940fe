namespace Tessera.Cuda;

/// <summary>The three NVIDIA libraries the CUDA back end binds to at run time.</summary>
public enum CudaLibrary
{
    /// <summary>The driver API (libcuda.so.1), installed with the GPU driver, not with the toolkit.</summary>
    Driver,

    /// <summary>The run-time CUDA C++ compiler (libnvrtc), which turns kernel source into PTX without a GPU.</summary>
    Nvrtc,

    /// <summary>NVIDIA's BLAS (libcublas), used for the large matrix products.</summary>
    Cublas,
}
