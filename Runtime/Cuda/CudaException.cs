namespace Tessera.Cuda;

/// <summary>
/// A CUDA driver, NVRTC or cuBLAS call that did not succeed, or a CUDA library that is missing. The message names the
/// call and the error, e.g. "cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX (a PTX JIT compilation failed)".
/// </summary>
public sealed class CudaException : Exception
{
    /// <summary>An error that is not a failed call (a missing library, a bad argument to our own API).</summary>
    public CudaException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    private CudaException(string call, int code, string errorName, string message, Exception? inner = null) : base(message, inner)
    {
        Call = call;
        Code = code;
        ErrorName = errorName;
    }

    /// <summary>The native function that failed, e.g. "cuMemAlloc_v2"; null when no call failed.</summary>
    public string? Call { get; }

    /// <summary>The status it returned (CUresult, nvrtcResult or cublasStatus_t).</summary>
    public int Code { get; }

    /// <summary>The status by name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"; null when no call failed.</summary>
    public string? ErrorName { get; }

    /// <summary>A fresh exception with the same call, code and message (for a remembered failure thrown again), wrapping this one.</summary>
    internal CudaException Repeat() => Call is null ? new CudaException(Message, this) : new CudaException(Call, Code, ErrorName!, Message, this);

    /// <summary>"<paramref name="call"/> failed: NAME (description)", or without the parenthesis when there is no description.</summary>
    public static string FormatMessage(string call, string errorName, string? description) =>
        string.IsNullOrWhiteSpace(description) || description == errorName
            ? $"{call} failed: {errorName}"
            : $"{call} failed: {errorName} ({description})";

    /// <summary>
    /// The exception for a failed driver call. <paramref name="describe"/> is the driver's own cuGetErrorName /
    /// cuGetErrorString (a parameter, so the formatting can be tested without a GPU); when it knows nothing we fall
    /// back to our table of common codes, then to the bare number.
    /// </summary>
    /// <param name="call">The driver function, e.g. "cuModuleLoadData".</param>
    /// <param name="code">The CUresult it returned.</param>
    /// <param name="describe">Name and description of a code, or (null, null) when unknown.</param>
    /// <param name="detail">Extra text to append, such as the JIT error log.</param>
    public static CudaException FromDriver(string call, int code, Func<int, (string? Name, string? Description)> describe, string? detail = null)
    {
        var (name, description) = describe(code);
        name ??= CudaErrorNames.Driver(code) ?? $"CUDA error {code}";
        var message = FormatMessage(call, name, description);
        if (!string.IsNullOrWhiteSpace(detail)) message += ": " + detail.Trim();
        return new CudaException(call, code, name, message);
    }

    /// <summary>The exception for a failed NVRTC call; <paramref name="errorString"/> comes from nvrtcGetErrorString and is already a name.</summary>
    public static CudaException FromNvrtc(string call, int code, string? errorString) =>
        new(call, code, errorString ?? $"NVRTC error {code}", FormatMessage(call, errorString ?? $"NVRTC error {code}", null));

    /// <summary>The exception for a failed cuBLAS call, named from our table of cublasStatus_t values.</summary>
    public static CudaException FromCublas(string call, int code)
    {
        var name = CudaErrorNames.Cublas(code) ?? $"cuBLAS status {code}";
        return new CudaException(call, code, name, FormatMessage(call, name, CudaErrorNames.CublasDescription(code)));
    }
}
