using System.Collections.Concurrent;

namespace Tessera.Cuda;

/// <summary>
/// The NVRTC entry points, bound from libnvrtc as unmanaged function pointers. A program handle (nvrtcProgram) is an
/// <see cref="IntPtr"/>; every function returns an nvrtcResult (<see cref="int"/>, 0 = NVRTC_SUCCESS). One instance
/// per library path, so a process can use CI's unpacked copy and the system's side by side.
/// </summary>
internal sealed unsafe class NvrtcApi
{
    private static readonly ConcurrentDictionary<string, Lazy<(NvrtcApi? Api, string Reason)>> Loaded = new();

    public required delegate* unmanaged<int*, int*, int> Version;
    public required delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> CreateProgram;
    public required delegate* unmanaged<IntPtr, int, byte**, int> CompileProgram;
    public required delegate* unmanaged<IntPtr, nuint*, int> GetPtxSize;
    public required delegate* unmanaged<IntPtr, byte*, int> GetPtx;
    public required delegate* unmanaged<IntPtr, nuint*, int> GetProgramLogSize;
    public required delegate* unmanaged<IntPtr, byte*, int> GetProgramLog;
    public required delegate* unmanaged<IntPtr*, int> DestroyProgram;
    public required delegate* unmanaged<int, byte*> GetErrorString;

    /// <summary>Where the library was loaded from.</summary>
    public required string Path { get; init; }

    /// <summary>
    /// NVRTC from <paramref name="overridePath"/> (a file or folder), else from <see cref="CudaLibraryProbe.NvrtcPathVariable"/>,
    /// else from the loader's search path; loaded once per distinct source. Null with a reason when unusable.
    /// </summary>
    public static NvrtcApi? TryGet(string? overridePath, out string reason)
    {
        var path = string.IsNullOrWhiteSpace(overridePath) ? CudaLibraryProbe.EnvironmentOverride(CudaLibrary.Nvrtc) : overridePath;
        var (api, why) = Loaded.GetOrAdd(path ?? "", p => new Lazy<(NvrtcApi?, string)>(() => Load(p))).Value;
        reason = why;
        return api;
    }

    private static (NvrtcApi?, string) Load(string overridePath)
    {
        if (!CudaLibraryProbe.TryLoad(CudaLibrary.Nvrtc, overridePath, out var lib, out var from, out var reason)) return (null, reason);
        try
        {
            return (new NvrtcApi
            {
                Path = from,
                Version = (delegate* unmanaged<int*, int*, int>)NativeExports.Require(lib, "nvrtcVersion"),
                CreateProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)NativeExports.Require(lib, "nvrtcCreateProgram"),
                CompileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)NativeExports.Require(lib, "nvrtcCompileProgram"),
                GetPtxSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeExports.Require(lib, "nvrtcGetPTXSize"),
                GetPtx = (delegate* unmanaged<IntPtr, byte*, int>)NativeExports.Require(lib, "nvrtcGetPTX"),
                GetProgramLogSize = (delegate* unmanaged<IntPtr, nuint*, int>)NativeExports.Require(lib, "nvrtcGetProgramLogSize"),
                GetProgramLog = (delegate* unmanaged<IntPtr, byte*, int>)NativeExports.Require(lib, "nvrtcGetProgramLog"),
                DestroyProgram = (delegate* unmanaged<IntPtr*, int>)NativeExports.Require(lib, "nvrtcDestroyProgram"),
                GetErrorString = (delegate* unmanaged<int, byte*>)NativeExports.Require(lib, "nvrtcGetErrorString"),
            }, "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"{from} is not a usable NVRTC: {e.Message}");
        }
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is NVRTC_SUCCESS.</summary>
    public void Check(int result, string call)
    {
        if (result != 0) throw CudaException.FromNvrtc(call, result, NativeExports.Utf8(GetErrorString(result)));
    }
}
