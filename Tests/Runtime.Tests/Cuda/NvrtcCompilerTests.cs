using Tessera.Cuda;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>NVRTC compiles CUDA C++ to PTX for Hopper (compute_90) without a GPU.</summary>
public class NvrtcCompilerTests
{
    private static string CompileOk(string source, string name, IEnumerable<string>? options = null)
    {
        var result = TestNvrtc.Compiler.Compile(source, name, "compute_90", options);
        var ok = Assert.IsType<NvrtcCompileResult.Success>(result);
        Assert.Contains(".target sm_90", ok.Ptx);
        return ok.Ptx;
    }

    [NvrtcFact]
    public void Version_IsKnown()
    {
        Assert.NotNull(TestNvrtc.Compiler.Version);
        Assert.True(TestNvrtc.Compiler.Version >= new Version(11, 8), $"NVRTC {TestNvrtc.Compiler.Version} predates sm_90");
        Assert.NotNull(TestNvrtc.Compiler.LibraryPath);
    }

    [NvrtcFact]
    public void Saxpy_CompilesToPtxForSm90()
    {
        var ptx = CompileOk(TestKernels.Saxpy, "saxpy.cu");
        Assert.Contains(".visible .entry saxpy(", ptx);
        Assert.Contains("fma.rn.f32", ptx);
    }

    [NvrtcFact]
    public void SharedMemoryAndWarpShuffles_Compile()
    {
        var ptx = CompileOk(TestKernels.BlockSum, "block_sum.cu");
        Assert.Contains(".visible .entry block_sum(", ptx);
        Assert.Contains(".shared", ptx);
        Assert.Contains("shfl.sync.down", ptx);
    }

    [NvrtcFact]
    public void TemplatesConstexprAndIfConstexpr_Compile()
    {
        var ptx = CompileOk(TestKernels.TemplatedDot, "dot4.cu");
        Assert.Contains(".visible .entry dot4_relu(", ptx);
    }

    [NvrtcFact]
    public void ExtraOptions_AreApplied()
    {
        const string source = """
            #ifndef BLOCK
            #error BLOCK must be defined
            #endif
            extern "C" __global__ void fill(float* y) { y[threadIdx.x] = BLOCK; }
            """;
        Assert.Contains(".visible .entry fill(", CompileOk(source, "fill.cu", ["-DBLOCK=256"]));
        var missing = Assert.IsType<NvrtcCompileResult.CompileError>(TestNvrtc.Compiler.Compile(source, "fill.cu"));
        Assert.Contains("BLOCK must be defined", missing.Log);
    }

    [NvrtcFact]
    public void SyntaxError_GivesCompileErrorWithTheLine()
    {
        var result = TestNvrtc.Compiler.Compile(TestKernels.Broken, "broken.cu");
        var error = Assert.IsType<NvrtcCompileResult.CompileError>(result);
        Assert.Contains("broken.cu(4): error", error.Log); // the parser notices the missing ';' at the next token
        Assert.Contains("expected a \";\"", error.Log);
        var thrown = Assert.Throws<CudaException>(() => result.GetPtxOrThrow());
        Assert.Contains("broken.cu(4)", thrown.Message);
    }

    [NvrtcFact]
    public void UnknownOption_IsACompileErrorNotACrash()
    {
        var result = TestNvrtc.Compiler.Compile(TestKernels.Saxpy, "saxpy.cu", options: ["--no-such-option"]);
        var error = Assert.IsType<NvrtcCompileResult.CompileError>(result);
        Assert.Contains("NVRTC_ERROR_INVALID_OPTION", error.Log);
    }

    [Fact]
    public void MissingNvrtc_IsAMissingResult()
    {
        var compiler = new NvrtcCompiler("/nonexistent/tessera-nvrtc");
        Assert.False(compiler.IsAvailable);
        Assert.Null(compiler.Version);
        var missing = Assert.IsType<NvrtcCompileResult.Missing>(compiler.Compile(TestKernels.Saxpy, "saxpy.cu"));
        Assert.Contains("/nonexistent/tessera-nvrtc", missing.Reason);
        Assert.Contains("libnvrtc not found", missing.Reason);
        var thrown = Assert.Throws<CudaException>(() => missing.GetPtxOrThrow());
        Assert.StartsWith("NVRTC is not available", thrown.Message);
    }

    [Fact]
    public void EffectiveOptions_PutArchitectureFirstAndLetCallerOverrideDefaults()
    {
        Assert.Equal(["--gpu-architecture=compute_90", "--std=c++17", "-default-device"], NvrtcCompiler.EffectiveOptions("compute_90", null));
        Assert.Equal(["--gpu-architecture=compute_80", "-default-device", "--std=c++14", "-lineinfo"],
            NvrtcCompiler.EffectiveOptions("compute_80", ["--std=c++14", "-lineinfo"]));
    }
}
