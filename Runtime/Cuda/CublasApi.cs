namespace Tessera.Cuda;

/// <summary>
/// The cuBLAS entry points, bound from libcublas as unmanaged function pointers. The handle (cublasHandle_t) is an
/// <see cref="IntPtr"/>, matrices are device pointers (<see cref="ulong"/>), scalars are host pointers (the default
/// CUBLAS_POINTER_MODE_HOST), and every function returns a cublasStatus_t (<see cref="int"/>, 0 = success).
/// </summary>
internal sealed unsafe class CublasApi
{
    private static readonly Lazy<(CublasApi? Api, string Reason)> Shared = new(Load);

    public required delegate* unmanaged<IntPtr*, int> Create;
    public required delegate* unmanaged<IntPtr, int> Destroy;
    public required delegate* unmanaged<IntPtr, IntPtr, int> SetStream;

    /// <summary>cublasSgemm_v2(handle, transa, transb, m, n, k, alpha*, A, lda, B, ldb, beta*, C, ldc).</summary>
    public required delegate* unmanaged<IntPtr, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int> Sgemm;

    /// <summary>cublasGemmEx(handle, transa, transb, m, n, k, alpha*, A, Atype, lda, B, Btype, ldb, beta*, C, Ctype, ldc, computeType, algo).</summary>
    public required delegate* unmanaged<IntPtr, int, int, int, int, int, void*, ulong, int, int, ulong, int, int, void*, ulong, int, int, int, int, int> GemmEx;

    /// <summary>Where the library was loaded from.</summary>
    public required string Path { get; init; }

    /// <summary>cuBLAS, loaded once per process, or null with the reason.</summary>
    public static CublasApi? TryGet(out string reason)
    {
        var (api, why) = Shared.Value;
        reason = why;
        return api;
    }

    private static (CublasApi?, string) Load()
    {
        if (!CudaLibraryProbe.TryLoad(CudaLibrary.Cublas, null, out var lib, out var from, out var reason)) return (null, reason);
        try
        {
            return (new CublasApi
            {
                Path = from,
                Create = (delegate* unmanaged<IntPtr*, int>)NativeExports.Require(lib, "cublasCreate_v2"),
                Destroy = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cublasDestroy_v2"),
                SetStream = (delegate* unmanaged<IntPtr, IntPtr, int>)NativeExports.Require(lib, "cublasSetStream_v2"),
                Sgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int>)
                    NativeExports.Require(lib, "cublasSgemm_v2"),
                GemmEx = (delegate* unmanaged<IntPtr, int, int, int, int, int, void*, ulong, int, int, ulong, int, int, void*, ulong, int, int, int, int, int>)
                    NativeExports.Require(lib, "cublasGemmEx"),
            }, "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"{from} is not a usable cuBLAS: {e.Message}");
        }
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="status"/> is CUBLAS_STATUS_SUCCESS.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0) throw CudaException.FromCublas(call, status);
    }
}
