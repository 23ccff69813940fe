namespace Tessera.Cuda;

/// <summary>
/// What compiling one CUDA C++ source with NVRTC gave: PTX, a compile error with NVRTC's log, or no NVRTC at all.
/// A closed hierarchy (like ComputeSharp's HlslBytecodeInfo), so callers switch over the three cases; a missing
/// toolchain is an expected outcome on build machines, not an exception.
/// </summary>
public abstract record NvrtcCompileResult
{
    private NvrtcCompileResult()
    {
    }

    /// <summary>The source compiled.</summary>
    /// <param name="Ptx">The PTX text, ready for cuModuleLoadData.</param>
    /// <param name="Log">NVRTC's log (warnings), usually empty.</param>
    public sealed record Success(string Ptx, string Log) : NvrtcCompileResult;

    /// <summary>NVRTC rejected the source (or the options).</summary>
    /// <param name="Log">NVRTC's log: "name(line): error: ...", one diagnostic per line.</param>
    public sealed record CompileError(string Log) : NvrtcCompileResult;

    /// <summary>NVRTC could not be loaded.</summary>
    /// <param name="Reason">Which library was looked for, where.</param>
    public sealed record Missing(string Reason) : NvrtcCompileResult;

    /// <summary>The PTX, or an exception that carries the log or the reason.</summary>
    public string GetPtxOrThrow() => this switch
    {
        Success s => s.Ptx,
        CompileError e => throw new CudaException($"NVRTC compilation failed:\n{e.Log}"),
        Missing m => throw new CudaException($"NVRTC is not available: {m.Reason}"),
        _ => throw new InvalidOperationException(),
    };
}
