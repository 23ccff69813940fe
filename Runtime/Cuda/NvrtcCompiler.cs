using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Cuda;

/// <summary>
/// Compiles CUDA C++ source to PTX at run time with NVRTC. Needs no GPU, only libnvrtc, so CI can check every
/// generated kernel. When NVRTC cannot be loaded every <see cref="Compile"/> returns
/// <see cref="NvrtcCompileResult.Missing"/> instead of throwing.
/// <code>
/// var result = new NvrtcCompiler().Compile(source, "saxpy.cu", "compute_90");
/// if (result is NvrtcCompileResult.Success ok) module = context.LoadModule(ok.Ptx);
/// </code>
/// </summary>
public sealed unsafe class NvrtcCompiler
{
    /// <summary>NVRTC's compile status for a source that does not compile (NVRTC_ERROR_COMPILATION).</summary>
    private const int ErrorCompilation = 6;

    /// <summary>NVRTC's status for an option it does not know (NVRTC_ERROR_INVALID_OPTION); also a user error.</summary>
    private const int ErrorInvalidOption = 5;

    private readonly NvrtcApi? _api;

    /// <summary>
    /// Options every compilation gets unless the caller passes the same flag: C++17 (supported by NVRTC 11 to 13),
    /// and functions without an execution-space qualifier compiled for the device, so generated helpers need no
    /// <c>__device__</c>.
    /// </summary>
    public static IReadOnlyList<string> DefaultOptions { get; } = ["--std=c++17", "-default-device"];

    /// <summary>Loads NVRTC from <paramref name="libraryPath"/> (a file or folder), else <c>TESSERA_NVRTC_PATH</c>, else the search path.</summary>
    public NvrtcCompiler(string? libraryPath = null)
    {
        _api = NvrtcApi.TryGet(libraryPath, out var reason);
        MissingReason = _api is null ? reason : null;
        if (_api is null) return;
        int major, minor;
        _api.Check(_api.Version(&major, &minor), "nvrtcVersion");
        Version = new Version(major, minor);
    }

    /// <summary>Whether NVRTC loaded.</summary>
    public bool IsAvailable => _api is not null;

    /// <summary>Why NVRTC did not load, or null.</summary>
    public string? MissingReason { get; }

    /// <summary>NVRTC's version (e.g. 11.8, 12.6), or null when missing.</summary>
    public Version? Version { get; }

    /// <summary>The library file that was loaded, or null.</summary>
    public string? LibraryPath => _api?.Path;

    /// <summary>The options a compilation passes to NVRTC, in order: architecture, defaults not overridden, the caller's.</summary>
    /// <param name="architecture">A virtual architecture such as "compute_90".</param>
    /// <param name="options">Extra NVRTC options, e.g. "-DBLOCK=256", "--use_fast_math".</param>
    public static IReadOnlyList<string> EffectiveOptions(string architecture, IEnumerable<string>? options)
    {
        var extra = options?.ToList() ?? [];
        static string Flag(string option) => option.Split('=', 2)[0];
        var overridden = extra.Select(Flag).ToHashSet(StringComparer.Ordinal);
        return [$"--gpu-architecture={architecture}", .. DefaultOptions.Where(o => !overridden.Contains(Flag(o))), .. extra];
    }

    /// <summary>Compiles <paramref name="source"/> to PTX.</summary>
    /// <param name="source">CUDA C++ source; entry points should be <c>extern "C" __global__</c> so their PTX names are not mangled.</param>
    /// <param name="name">The source's file name, used in NVRTC's log ("name(12): error: ...").</param>
    /// <param name="architecture">The virtual architecture the PTX targets.</param>
    /// <param name="options">Extra NVRTC options.</param>
    /// <exception cref="CudaException">NVRTC failed for a reason other than the source (out of memory, internal error).</exception>
    public NvrtcCompileResult Compile(string source, string name, string architecture = "compute_90", IEnumerable<string>? options = null)
    {
        if (_api is null) return new NvrtcCompileResult.Missing(MissingReason!);
        var api = _api;
        var all = EffectiveOptions(architecture, options);
        IntPtr program;
        fixed (byte* src = Utf8z(source), nm = Utf8z(name))
        {
            api.Check(api.CreateProgram(&program, src, nm, 0, null, null), "nvrtcCreateProgram");
        }
        try
        {
            var encoded = all.Select(Utf8z).ToArray();
            var handles = encoded.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
            int status;
            try
            {
                byte** pointers = stackalloc byte*[encoded.Length];
                for (var i = 0; i < encoded.Length; i++) pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                status = api.CompileProgram(program, encoded.Length, pointers);
            }
            finally
            {
                foreach (var h in handles) h.Free();
            }
            var log = ReadLog(api, program);
            if (status is ErrorCompilation) return new NvrtcCompileResult.CompileError(log);
            if (status is ErrorInvalidOption)
                return new NvrtcCompileResult.CompileError($"{NativeExports.Utf8(api.GetErrorString(status))}: {string.Join(' ', all)}\n{log}".TrimEnd());
            api.Check(status, "nvrtcCompileProgram");
            nuint size;
            api.Check(api.GetPtxSize(program, &size), "nvrtcGetPTXSize");
            var ptx = new byte[(int)size];
            fixed (byte* p = ptx) api.Check(api.GetPtx(program, p), "nvrtcGetPTX");
            return new NvrtcCompileResult.Success(Encoding.UTF8.GetString(ptx).TrimEnd('\0'), log);
        }
        finally
        {
            api.DestroyProgram(&program);
        }
    }

    private static string ReadLog(NvrtcApi api, IntPtr program)
    {
        nuint size;
        api.Check(api.GetProgramLogSize(program, &size), "nvrtcGetProgramLogSize");
        if (size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) api.Check(api.GetProgramLog(program, p), "nvrtcGetProgramLog");
        return Encoding.UTF8.GetString(log).TrimEnd('\0').Trim();
    }

    /// <summary>NUL-terminated UTF-8, as NVRTC's C strings are.</summary>
    private static byte[] Utf8z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
