using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Tessera.Gpu;

/// <summary>
/// fp32 matrix products on cuBLAS, through ILGPU.Algorithms' binding, on a virtual device's stream. Our tensors are
/// row-major and weights are (out, in): cuBLAS, column-major, sees y (T, N) as yᵀ (N, T) = w (N, K) · xᵀ, i.e.
/// gemm(op(w) = transpose of the stored (K, N) column-major array, op(x) = as stored).
/// </summary>
internal sealed class GpuBlas : IDisposable
{
    /// <summary>cublasMath_t's CUBLAS_TF32_TENSOR_OP_MATH (ILGPU's enum stops at the older TensorOpMath).</summary>
    private const CuBlasMathMode Tf32TensorOpMath = (CuBlasMathMode)3;

    /// <summary>cublasMath_t's CUBLAS_DEFAULT_MATH: fp32 products in fp32.</summary>
    private const CuBlasMathMode DefaultMath = (CuBlasMathMode)0;

    private readonly CuBlas _blas;

    public GpuBlas(CudaAccelerator accelerator, AcceleratorStream stream)
    {
        _blas = new CuBlas(accelerator);
        _blas.Stream = (CudaStream)stream;
    }

    /// <summary>y (rows, n) = x (rows, k) · wᵀ; <paramref name="tf32"/> rounds the inputs to TF32 on tensor cores.</summary>
    public void Gemm(ArrayView<float> y, ArrayView<float> x, ArrayView<float> w, int rows, int n, int k, bool tf32)
    {
        _blas.MathMode = tf32 ? Tf32TensorOpMath : DefaultMath;
        _blas.Gemm(CuBlasOperation.Transpose, CuBlasOperation.NonTranspose, n, rows, k, 1.0f, w, k, x, k, 0.0f, y, n);
    }

    public void Dispose() => _blas.Dispose();
}
