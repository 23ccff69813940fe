namespace Tessera.Cuda;

/// <summary>
/// A cuBLAS handle bound to a <see cref="CudaContext"/>'s stream, for the linear layers: y (T,N) = x (T,K) · wᵀ with
/// every matrix row-major and w (N,K) in the checkpoint's layout (see <see cref="CublasGemmArguments"/> for how that
/// maps onto column-major cuBLAS). Calls are queued on the stream, ordered with the context's kernels.
/// </summary>
public sealed unsafe class CudaBlas : IDisposable
{
    private const int ComputeType32F = 68;   // CUBLAS_COMPUTE_32F: accumulate in fp32 whatever the inputs
    private const int ComputeType32FFastTf32 = 77; // CUBLAS_COMPUTE_32F_FAST_TF32: fp32 in and out, TF32 tensor cores inside
    private const int GemmDefault = -1;      // CUBLAS_GEMM_DEFAULT: let cuBLAS pick the algorithm

    private readonly CudaContext _context;
    private readonly CublasApi _api;
    private IntPtr _handle;

    /// <summary>Creates a handle on <paramref name="context"/>'s GPU and binds it to the context's stream.</summary>
    /// <exception cref="CudaException">libcublas is missing or handle creation failed.</exception>
    public CudaBlas(CudaContext context)
    {
        _context = context;
        _api = context.BlasApi(out var reason) ?? throw new CudaException($"cuBLAS is not available: {reason}");
        context.MakeCurrent();
        IntPtr handle;
        CublasApi.Check(_api.Create(&handle), "cublasCreate_v2");
        _handle = handle;
        CublasApi.Check(_api.SetStream(handle, context.Stream), "cublasSetStream_v2");
    }

    /// <summary>Whether libcublas can be loaded, and if not why; does not need a GPU.</summary>
    public static bool IsAvailable(out string reason) => CublasApi.TryGet(out reason) is not null;

    /// <summary>y (T,N) = alpha · x (T,K) · wᵀ + beta · y, all fp32 row-major, w (N,K).</summary>
    /// <param name="y">Output, T·N floats.</param>
    /// <param name="x">Activations, T·K floats.</param>
    /// <param name="w">Weights, N·K floats.</param>
    /// <param name="t">Tokens (rows of x and y).</param>
    /// <param name="n">Output features.</param>
    /// <param name="k">Input features.</param>
    /// <param name="alpha">Scale of the product.</param>
    /// <param name="beta">Scale of y's previous contents (1 adds into y, e.g. a residual).</param>
    public void Gemm(CudaBuffer y, CudaBuffer x, CudaBuffer w, int t, int n, int k, float alpha = 1f, float beta = 0f)
    {
        CheckSize(y, (long)t * n * 4, "y");
        CheckSize(x, (long)t * k * 4, "x");
        CheckSize(w, (long)n * k * 4, "w");
        var g = CublasGemmArguments.RowMajorXWt(t, n, k);
        _context.MakeCurrent();
        CublasApi.Check(_api.Sgemm(Handle, g.TransA, g.TransB, g.M, g.N, g.K, &alpha, w.DevicePointer, g.Lda,
            x.DevicePointer, g.Ldb, &beta, y.DevicePointer, g.Ldc), "cublasSgemm_v2");
    }

    /// <summary>
    /// y = alpha · x · wᵀ + beta · y with x and w of <paramref name="inputType"/> (fp16 or bf16 weights and activations;
    /// cuBLAS wants both inputs of one type) and y of <paramref name="outputType"/>, accumulating in fp32.
    /// </summary>
    public void GemmEx(CudaBuffer y, CudaBuffer x, CudaBuffer w, int t, int n, int k, CudaDataType inputType, CudaDataType outputType,
        float alpha = 1f, float beta = 0f)
    {
        CheckSize(y, (long)t * n * SizeOf(outputType), "y");
        CheckSize(x, (long)t * k * SizeOf(inputType), "x");
        CheckSize(w, (long)n * k * SizeOf(inputType), "w");
        var g = CublasGemmArguments.RowMajorXWt(t, n, k);
        _context.MakeCurrent();
        CublasApi.Check(_api.GemmEx(Handle, g.TransA, g.TransB, g.M, g.N, g.K, &alpha, w.DevicePointer, (int)inputType, g.Lda,
            x.DevicePointer, (int)inputType, g.Ldb, &beta, y.DevicePointer, (int)outputType, g.Ldc, ComputeType32F, GemmDefault), "cublasGemmEx");
    }

    /// <summary>
    /// y = x · wᵀ, all fp32 in memory, on TF32 tensor cores (inputs rounded to 10 mantissa bits, fp32 accumulation):
    /// several times sgemm's speed. Exact for bf16 weights widened to fp32 (bf16 has 7 mantissa bits), so it is
    /// how large products with bf16 weights run while the activations keep more precision than bf16.
    /// </summary>
    public void GemmTf32(CudaBuffer y, CudaBuffer x, CudaBuffer w, int t, int n, int k)
    {
        CheckSize(y, (long)t * n * 4, "y");
        CheckSize(x, (long)t * k * 4, "x");
        CheckSize(w, (long)n * k * 4, "w");
        var g = CublasGemmArguments.RowMajorXWt(t, n, k);
        float alpha = 1f, beta = 0f;
        _context.MakeCurrent();
        CublasApi.Check(_api.GemmEx(Handle, g.TransA, g.TransB, g.M, g.N, g.K, &alpha, w.DevicePointer, (int)CudaDataType.F32, g.Lda,
            x.DevicePointer, (int)CudaDataType.F32, g.Ldb, &beta, y.DevicePointer, (int)CudaDataType.F32, g.Ldc, ComputeType32FFastTf32, GemmDefault),
            "cublasGemmEx(TF32)");
    }

    /// <summary>y (fp32) = x (bf16) · wᵀ (bf16), fp32 accumulation: the usual bf16-checkpoint linear layer.</summary>
    public void GemmBf16(CudaBuffer y, CudaBuffer x, CudaBuffer w, int t, int n, int k) =>
        GemmEx(y, x, w, t, n, k, CudaDataType.BF16, CudaDataType.F32);

    private static int SizeOf(CudaDataType type) => type == CudaDataType.F32 ? 4 : 2;

    private static void CheckSize(CudaBuffer buffer, long bytes, string name)
    {
        if (buffer.ByteSize < bytes)
            throw new ArgumentException($"{name} holds {buffer.ByteSize} bytes; the product needs {bytes}.", name);
    }

    private IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle == IntPtr.Zero, this);
            return _handle;
        }
    }

    /// <summary>Destroys the handle.</summary>
    public void Dispose()
    {
        if (_handle == IntPtr.Zero || _context.IsDisposed) return;
        _context.MakeCurrent();
        _api.Destroy(_handle);
        _handle = IntPtr.Zero;
    }
}
