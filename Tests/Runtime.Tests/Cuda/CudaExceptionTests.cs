using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>Failed calls read "call failed: NAME (description)", without a GPU.</summary>
public class CudaExceptionTests
{
    private static (string?, string?) FakeDriver(int code) =>
        code == 218 ? ("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed") : (null, null);

    [Fact]
    public void DriverError_UsesTheDriversNameAndDescription()
    {
        var e = CudaException.FromDriver("cuModuleLoadData", 218, FakeDriver);
        Assert.Equal("cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)", e.Message);
        Assert.Equal(("cuModuleLoadData", 218, "CUDA_ERROR_INVALID_PTX"), (e.Call, e.Code, e.ErrorName));
    }

    [Fact]
    public void DriverError_AppendsTheJitLog()
    {
        var e = CudaException.FromDriver("cuModuleLoadData", 218, FakeDriver, "ptxas application ptx input, line 12; error   : Unknown symbol 'x'\n");
        Assert.Equal("cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed): ptxas application ptx input, line 12; error   : Unknown symbol 'x'",
            e.Message);
    }

    [Fact]
    public void DriverError_FallsBackToOurTableThenTheNumber()
    {
        Assert.Equal("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY", CudaException.FromDriver("cuMemAlloc_v2", 2, FakeDriver).Message);
        var unknown = CudaException.FromDriver("cuInit", 12345, FakeDriver);
        Assert.Equal("cuInit failed: CUDA error 12345", unknown.Message);
        Assert.Equal("CUDA error 12345", unknown.ErrorName);
    }

    [Fact]
    public void NvrtcError_UsesNvrtcsErrorString()
    {
        Assert.Equal("nvrtcCompileProgram failed: NVRTC_ERROR_OUT_OF_MEMORY",
            CudaException.FromNvrtc("nvrtcCompileProgram", 1, "NVRTC_ERROR_OUT_OF_MEMORY").Message);
        Assert.Equal("nvrtcGetPTX failed: NVRTC error 99", CudaException.FromNvrtc("nvrtcGetPTX", 99, null).Message);
    }

    [Fact]
    public void CublasError_IsNamedFromTheStatusTable()
    {
        Assert.Equal("cublasSgemm_v2 failed: CUBLAS_STATUS_INVALID_VALUE (an invalid numeric value was used as an argument)",
            CudaException.FromCublas("cublasSgemm_v2", 7).Message);
        Assert.Equal("cublasGemmEx failed: cuBLAS status 42", CudaException.FromCublas("cublasGemmEx", 42).Message);
    }

    [Fact]
    public void FormatMessage_OmitsEmptyOrRepeatedDescriptions()
    {
        Assert.Equal("f failed: E", CudaException.FormatMessage("f", "E", null));
        Assert.Equal("f failed: E", CudaException.FormatMessage("f", "E", "E"));
        Assert.Equal("f failed: E (d)", CudaException.FormatMessage("f", "E", "d"));
    }
}
