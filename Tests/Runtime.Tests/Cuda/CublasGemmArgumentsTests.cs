using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// The row-major y = x·wᵀ to column-major cuBLAS mapping, checked without a GPU by running the arguments through a
/// CPU GEMM with BLAS's own column-major semantics.
/// </summary>
public class CublasGemmArgumentsTests
{
    [Fact]
    public void RowMajorXWt_IsTheTransposedWeightsTimesActivations()
    {
        Assert.Equal(new CublasGemmArguments(CublasGemmArguments.OpT, CublasGemmArguments.OpN, M: 5, N: 3, K: 4, Lda: 4, Ldb: 4, Ldc: 5),
            CublasGemmArguments.RowMajorXWt(t: 3, n: 5, k: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => CublasGemmArguments.RowMajorXWt(0, 5, 4));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 5, 4)]
    [InlineData(7, 2, 9)]
    public void ColumnMajorGemmWithTheseArguments_ComputesRowMajorXWt(int t, int n, int k)
    {
        var random = new Random(t * 100 + n * 10 + k);
        var x = Enumerable.Range(0, t * k).Select(_ => (float)random.Next(-4, 5)).ToArray();  // (T, K)
        var w = Enumerable.Range(0, n * k).Select(_ => (float)random.Next(-4, 5)).ToArray();  // (N, K)
        var g = CublasGemmArguments.RowMajorXWt(t, n, k);
        var y = new float[t * n];                                                             // (T, N)
        ColumnMajorSgemm(g.TransA, g.TransB, g.M, g.N, g.K, 1f, w, g.Lda, x, g.Ldb, 0f, y, g.Ldc);

        for (var i = 0; i < t; i++)
        for (var j = 0; j < n; j++)
        {
            var expected = 0f;
            for (var p = 0; p < k; p++) expected += x[i * k + p] * w[j * k + p];
            Assert.Equal(expected, y[i * n + j]);
        }
    }

    /// <summary>Reference BLAS sgemm: C (m,n) = alpha·op(A)·op(B) + beta·C, column-major, element (r,c) at r + c·ld.</summary>
    private static void ColumnMajorSgemm(int transA, int transB, int m, int n, int k, float alpha, float[] a, int lda,
        float[] b, int ldb, float beta, float[] c, int ldc)
    {
        float A(int r, int col) => transA == CublasGemmArguments.OpN ? a[r + col * lda] : a[col + r * lda];
        float B(int r, int col) => transB == CublasGemmArguments.OpN ? b[r + col * ldb] : b[col + r * ldb];
        for (var col = 0; col < n; col++)
        for (var r = 0; r < m; r++)
        {
            var sum = 0f;
            for (var p = 0; p < k; p++) sum += A(r, p) * B(p, col);
            c[r + col * ldc] = alpha * sum + beta * c[r + col * ldc];
        }
    }
}
