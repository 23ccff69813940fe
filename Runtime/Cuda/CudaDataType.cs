namespace Tessera.Cuda;

/// <summary>Element types for cuBLAS's mixed-precision calls; the values are cudaDataType_t's (library_types.h).</summary>
public enum CudaDataType
{
    /// <summary>CUDA_R_32F: float.</summary>
    F32 = 0,

    /// <summary>CUDA_R_16F: IEEE half.</summary>
    F16 = 2,

    /// <summary>CUDA_R_16BF: bfloat16.</summary>
    BF16 = 14,
}
