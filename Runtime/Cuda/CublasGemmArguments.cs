namespace Tessera.Cuda;

/// <summary>
/// The column-major cuBLAS GEMM arguments that compute our row-major linear layer, y (T,N) = x (T,K) · wᵀ with
/// w (N,K) row-major (the PyTorch / safetensors layout). cuBLAS is column-major, and a row-major (R,C) matrix is, read
/// column-major, its transpose (C,R) with leading dimension C. So cuBLAS sees x as xᵀ (K,T), w as wᵀ (K,N) and
/// writes y as yᵀ (N,T). Since yᵀ = (x wᵀ)ᵀ = w · xᵀ, we ask for C (N,T) = op(A) · op(B) with A = the w buffer
/// transposed back (op = T, lda = K), B = the x buffer as is (op = N, ldb = K), ldc = N: m = N, n = T, k = K.
/// No data moves; only the reading changes.
/// </summary>
/// <param name="TransA">cublasOperation_t for A (the weights): 1 = CUBLAS_OP_T.</param>
/// <param name="TransB">cublasOperation_t for B (the activations): 0 = CUBLAS_OP_N.</param>
/// <param name="M">Rows of op(A) and C: N, the output features.</param>
/// <param name="N">Columns of op(B) and C: T, the tokens.</param>
/// <param name="K">The shared dimension: K, the input features.</param>
/// <param name="Lda">Leading dimension of A as stored: K.</param>
/// <param name="Ldb">Leading dimension of B as stored: K.</param>
/// <param name="Ldc">Leading dimension of C as stored: N.</param>
public readonly record struct CublasGemmArguments(int TransA, int TransB, int M, int N, int K, int Lda, int Ldb, int Ldc)
{
    /// <summary>CUBLAS_OP_N.</summary>
    public const int OpN = 0;

    /// <summary>CUBLAS_OP_T.</summary>
    public const int OpT = 1;

    /// <summary>The arguments for y (T,N) = x (T,K) · wᵀ, all row-major.</summary>
    /// <param name="t">Rows of x and y (tokens).</param>
    /// <param name="n">Rows of w, columns of y (output features).</param>
    /// <param name="k">Columns of x and w (input features).</param>
    public static CublasGemmArguments RowMajorXWt(int t, int n, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(t);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return new CublasGemmArguments(OpT, OpN, M: n, N: t, K: k, Lda: k, Ldb: k, Ldc: n);
    }
}
