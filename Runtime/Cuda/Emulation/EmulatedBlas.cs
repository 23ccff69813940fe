using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Cuda.Emulation;

/// <summary>
/// cublasSgemm and cublasGemmEx on the CPU, bound into a <see cref="CublasApi"/> for emulated contexts: column-major,
/// both transposes, fp32 / fp16 / bf16 inputs and outputs, fp32 accumulation, alpha and beta as cuBLAS defines them.
/// Written for clarity, not speed: the emulator checks what the GPU path computes, on small models.
/// </summary>
internal static unsafe class EmulatedBlas
{
    private const int Success = 0, InvalidValue = 7, NotSupported = 15;

    public static CublasApi Api { get; } = new()
    {
        Path = EmulatedDriver.DeviceName,
        Create = &Create,
        Destroy = &Destroy,
        SetStream = &SetStream,
        Sgemm = &Sgemm,
        GemmEx = &GemmEx,
    };

    [UnmanagedCallersOnly]
    private static int Create(IntPtr* handle)
    {
        *handle = 1;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int Destroy(IntPtr handle) => Success;

    [UnmanagedCallersOnly]
    private static int SetStream(IntPtr handle, IntPtr stream) => Success;

    [UnmanagedCallersOnly]
    private static int Sgemm(IntPtr handle, int transA, int transB, int m, int n, int k, float* alpha, ulong a, int lda, ulong b, int ldb,
        float* beta, ulong c, int ldc) =>
        Gemm(transA, transB, m, n, k, *alpha, a, (int)CudaDataType.F32, lda, b, (int)CudaDataType.F32, ldb, *beta, c, (int)CudaDataType.F32, ldc);

    [UnmanagedCallersOnly]
    private static int GemmEx(IntPtr handle, int transA, int transB, int m, int n, int k, void* alpha, ulong a, int aType, int lda,
        ulong b, int bType, int ldb, void* beta, ulong c, int cType, int ldc, int computeType, int algorithm)
    {
        // CUBLAS_COMPUTE_32F (68), or CUBLAS_COMPUTE_32F_FAST_TF32 (77): tensor cores read fp32 inputs as TF32, so the
        // emulator rounds them to TF32's 10 mantissa bits, and its results carry the same error as the GPU's.
        if (computeType is not (68 or 77)) return NotSupported;
        return Gemm(transA, transB, m, n, k, *(float*)alpha, a, aType, lda, b, bType, ldb, *(float*)beta, c, cType, ldc, tf32: computeType == 77);
    }

    /// <summary>fp32 rounded to the nearest TF32 (1 sign, 8 exponent, 10 mantissa bits), ties to even.</summary>
    public static float RoundToTf32(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7f800000) == 0x7f800000) return value; // inf, nan
        bits += 0xfff + ((bits >> 13) & 1);
        return BitConverter.UInt32BitsToSingle(bits & 0xffffe000);
    }

    /// <summary>C (m,n) = alpha · op(A) (m,k) · op(B) (k,n) + beta · C, column-major; beta = 0 ignores C's contents, as cuBLAS does.</summary>
    private static int Gemm(int transA, int transB, int m, int n, int k, float alpha, ulong a, int aType, int lda,
        ulong b, int bType, int ldb, float beta, ulong c, int cType, int ldc, bool tf32 = false)
    {
        if (m < 0 || n < 0 || k < 0 || transA is < 0 or > 1 || transB is < 0 or > 1) return InvalidValue;
        if (lda < Math.Max(1, transA == 0 ? m : k) || ldb < Math.Max(1, transB == 0 ? k : n) || ldc < Math.Max(1, m)) return InvalidValue;
        if (!IsType(aType) || !IsType(bType) || !IsType(cType)) return NotSupported;
        // op(A) row i and op(B) column j as contiguous fp32 vectors, so each element of C is one dot product.
        var rowsOfA = new float[(long)m * k];
        var columnsOfB = new float[(long)n * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                rowsOfA[(long)i * k + p] = Read(a, aType, transA == 0 ? i + (long)p * lda : p + (long)i * lda);
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++)
                columnsOfB[(long)j * k + p] = Read(b, bType, transB == 0 ? p + (long)j * ldb : j + (long)p * ldb);
        if (tf32)
        {
            for (long i = 0; i < rowsOfA.LongLength; i++) rowsOfA[i] = RoundToTf32(rowsOfA[i]);
            for (long i = 0; i < columnsOfB.LongLength; i++) columnsOfB[i] = RoundToTf32(columnsOfB[i]);
        }
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                long at = i + (long)j * ldc;
                float product = alpha * TensorPrimitives.Dot(rowsOfA.AsSpan(i * k, k), columnsOfB.AsSpan(j * k, k));
                Write(c, cType, at, beta == 0f ? product : product + beta * Read(c, cType, at));
            }
        return Success;
    }

    private static bool IsType(int type) => type is (int)CudaDataType.F32 or (int)CudaDataType.F16 or (int)CudaDataType.BF16;

    private static float Read(ulong address, int type, long index) => type switch
    {
        (int)CudaDataType.F32 => ((float*)address)[index],
        (int)CudaDataType.F16 => (float)((Half*)address)[index],
        _ => Cpu.WeightMatrix.FromBf16(((ushort*)address)[index]),
    };

    private static void Write(ulong address, int type, long index, float value)
    {
        switch (type)
        {
            case (int)CudaDataType.F32: ((float*)address)[index] = value; break;
            case (int)CudaDataType.F16: ((Half*)address)[index] = (Half)value; break;
            default: ((ushort*)address)[index] = Cpu.WeightMatrix.ToBf16(value); break;
        }
    }
}
