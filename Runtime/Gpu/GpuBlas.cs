using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Tessera.Gpu;

/// <summary>
/// fp32 matrix products on cuBLAS, through ILGPU.Algorithms' binding, on a virtual device's stream. Our tensors are
/// row-major and weights are (out, in): cuBLAS, column-major, sees y (T, N) as yᵀ (N, T) = w (N, K) · xᵀ, i.e.
/// gemm(op(w) = transpose of the stored (K, N) column-major array, op(x) = as stored). bf16 products go to
/// cublasGemmEx, the one call bound here (ILGPU.Algorithms has no GemmEx).
/// </summary>
internal sealed class GpuBlas : IDisposable
{
    /// <summary>cublasMath_t's CUBLAS_DEFAULT_MATH: fp32 products in fp32.</summary>
    private const CuBlasMathMode DefaultMath = (CuBlasMathMode)0;

    private readonly CuBlas _blas;

    public GpuBlas(CudaAccelerator accelerator, AcceleratorStream stream)
    {
        // Every product is fp32 math (no TF32) with host scalars; bf16 goes through GemmEx's own compute type.
        _blas = new CuBlas(accelerator) { Stream = (CudaStream)stream, MathMode = DefaultMath, PointerMode = CuBlasPointerMode.Host };
    }

    /// <summary>y (rows, n) = x (rows, k) · wᵀ in fp32.</summary>
    public void Gemm(ArrayView<float> y, ArrayView<float> x, ArrayView<float> w, int rows, int n, int k) =>
        _blas.Gemm(CuBlasOperation.Transpose, CuBlasOperation.NonTranspose, n, rows, k, 1.0f, w, k, x, k, 0.0f, y, n);

    /// <summary>
    /// y (rows, n) = x (rows, k) · wᵀ with bf16 x and w on bf16 tensor cores, fp32 accumulation and output:
    /// cublasGemmEx, which ILGPU.Algorithms does not bind — this one call is bound here, found in the libcublas the
    /// binding already loads (CUDA 12 or 11).
    /// </summary>
    public unsafe void GemmBf16(ArrayView<float> y, ArrayView<ushort> x, ArrayView<ushort> w, int rows, int n, int k)
    {
        const int OpN = 0, OpT = 1, Bf16 = 14 /* CUDA_R_16BF */, F32 = 0 /* CUDA_R_32F */, Compute32F = 68 /* CUBLAS_COMPUTE_32F */, DefaultAlgorithm = -1;
        var gemmEx = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, IntPtr, int, int, IntPtr, int, int, float*, IntPtr, int, int, int, int, int>)GemmExEntry.Value;
        if (gemmEx is null) throw new InvalidOperationException("cublasGemmEx was not found in libcublas.so.12 or .11 (cublas64_12/11.dll).");
        float alpha = 1.0f, beta = 0.0f;
        int status = gemmEx(_blas.Handle, OpT, OpN, n, rows, k, &alpha, w.LoadEffectiveAddressAsPtr(), Bf16, k, x.LoadEffectiveAddressAsPtr(), Bf16, k,
            &beta, y.LoadEffectiveAddressAsPtr(), F32, n, Compute32F, DefaultAlgorithm);
        if (status != 0) throw new InvalidOperationException($"cublasGemmEx ({n} x {rows} x {k}, bf16) failed with cublasStatus_t {status}.");
    }

    private static readonly Lazy<IntPtr> GemmExEntry = new(() =>
    {
        foreach (var name in new[] { "libcublas.so.12", "libcublas.so.11", "cublas64_12.dll", "cublas64_11.dll" })
            if (System.Runtime.InteropServices.NativeLibrary.TryLoad(name, out var library)
                && System.Runtime.InteropServices.NativeLibrary.TryGetExport(library, "cublasGemmEx", out var entry))
                return entry;
        return IntPtr.Zero;
    });

    public void Dispose() => _blas.Dispose();
}
