namespace Tessera.Cuda;

/// <summary>
/// Names for status codes when the library cannot tell us itself: the driver describes its own codes
/// (cuGetErrorName), but not once it is unloadable; cuBLAS only gained cublasGetStatusName in 11.4, so we keep its
/// short, stable list here. Values are from cuda.h and cublas_api.h.
/// </summary>
public static class CudaErrorNames
{
    private static readonly Dictionary<int, string> DriverNames = new()
    {
        [0] = "CUDA_SUCCESS",
        [1] = "CUDA_ERROR_INVALID_VALUE",
        [2] = "CUDA_ERROR_OUT_OF_MEMORY",
        [3] = "CUDA_ERROR_NOT_INITIALIZED",
        [4] = "CUDA_ERROR_DEINITIALIZED",
        [34] = "CUDA_ERROR_STUB_LIBRARY",
        [100] = "CUDA_ERROR_NO_DEVICE",
        [101] = "CUDA_ERROR_INVALID_DEVICE",
        [200] = "CUDA_ERROR_INVALID_IMAGE",
        [201] = "CUDA_ERROR_INVALID_CONTEXT",
        [209] = "CUDA_ERROR_NO_BINARY_FOR_GPU",
        [218] = "CUDA_ERROR_INVALID_PTX",
        [222] = "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        [400] = "CUDA_ERROR_INVALID_HANDLE",
        [500] = "CUDA_ERROR_NOT_FOUND",
        [600] = "CUDA_ERROR_NOT_READY",
        [700] = "CUDA_ERROR_ILLEGAL_ADDRESS",
        [701] = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
        [702] = "CUDA_ERROR_LAUNCH_TIMEOUT",
        [719] = "CUDA_ERROR_LAUNCH_FAILED",
        [803] = "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
        [804] = "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
        [999] = "CUDA_ERROR_UNKNOWN",
    };

    private static readonly Dictionary<int, (string Name, string Description)> CublasStatuses = new()
    {
        [0] = ("CUBLAS_STATUS_SUCCESS", "success"),
        [1] = ("CUBLAS_STATUS_NOT_INITIALIZED", "the library was not initialized"),
        [3] = ("CUBLAS_STATUS_ALLOC_FAILED", "the resource allocation failed"),
        [7] = ("CUBLAS_STATUS_INVALID_VALUE", "an invalid numeric value was used as an argument"),
        [8] = ("CUBLAS_STATUS_ARCH_MISMATCH", "an absent device architectural feature is required"),
        [11] = ("CUBLAS_STATUS_MAPPING_ERROR", "an access to GPU memory space failed"),
        [13] = ("CUBLAS_STATUS_EXECUTION_FAILED", "the GPU program failed to execute"),
        [14] = ("CUBLAS_STATUS_INTERNAL_ERROR", "an internal operation failed"),
        [15] = ("CUBLAS_STATUS_NOT_SUPPORTED", "the functionality requested is not supported"),
        [16] = ("CUBLAS_STATUS_LICENSE_ERROR", "there is an error with the license"),
    };

    /// <summary>The CUresult's name for a common code, or null.</summary>
    public static string? Driver(int code) => DriverNames.GetValueOrDefault(code);

    /// <summary>The cublasStatus_t's name, or null.</summary>
    public static string? Cublas(int code) => CublasStatuses.TryGetValue(code, out var s) ? s.Name : null;

    /// <summary>What the cublasStatus_t means, in cuBLAS's documentation's words, or null.</summary>
    public static string? CublasDescription(int code) => CublasStatuses.TryGetValue(code, out var s) ? s.Description : null;
}
