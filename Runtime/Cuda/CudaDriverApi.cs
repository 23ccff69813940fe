namespace Tessera.Cuda;

/// <summary>
/// The CUDA driver API entry points we use, bound from libcuda.so.1 as unmanaged function pointers. Handles
/// (CUcontext, CUstream, CUmodule, CUfunction, CUevent) are <see cref="IntPtr"/>, device pointers (CUdeviceptr) are
/// <see cref="ulong"/>, devices (CUdevice) are <see cref="int"/>, every function returns a CUresult (<see cref="int"/>).
/// The <c>_v2</c> entry points are bound where the driver exports them: they take 64-bit sizes and are what the
/// CUDA headers map the plain names to.
/// </summary>
internal sealed unsafe class CudaDriverApi
{
    private static readonly Lazy<(CudaDriverApi? Api, string Reason)> Shared = new(Load);

    public required delegate* unmanaged<uint, int> Init;
    public required delegate* unmanaged<int*, int> DriverGetVersion;
    public required delegate* unmanaged<int*, int> DeviceGetCount;
    public required delegate* unmanaged<int*, int, int> DeviceGet;
    public required delegate* unmanaged<byte*, int, int, int> DeviceGetName;
    public required delegate* unmanaged<nuint*, int, int> DeviceTotalMem;
    public required delegate* unmanaged<int*, int, int, int> DeviceGetAttribute;
    public required delegate* unmanaged<IntPtr*, int, int> DevicePrimaryCtxRetain;
    public required delegate* unmanaged<int, int> DevicePrimaryCtxRelease;
    public required delegate* unmanaged<IntPtr*, uint, int, int> CtxCreate;
    public required delegate* unmanaged<IntPtr, int> CtxDestroy;
    public required delegate* unmanaged<IntPtr, int> CtxSetCurrent;
    public required delegate* unmanaged<IntPtr*, uint, int> StreamCreate;
    public required delegate* unmanaged<IntPtr, int> StreamSynchronize;
    public required delegate* unmanaged<IntPtr, int> StreamDestroy;
    public required delegate* unmanaged<IntPtr*, void*, int> ModuleLoadData;
    public required delegate* unmanaged<IntPtr*, void*, uint, int*, void**, int> ModuleLoadDataEx;
    public required delegate* unmanaged<IntPtr, int> ModuleUnload;
    public required delegate* unmanaged<IntPtr*, IntPtr, byte*, int> ModuleGetFunction;
    public required delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int> LaunchKernel;
    public required delegate* unmanaged<ulong*, nuint, int> MemAlloc;
    public required delegate* unmanaged<ulong, int> MemFree;
    public required delegate* unmanaged<ulong, void*, nuint, int> MemcpyHtoD;
    public required delegate* unmanaged<void*, ulong, nuint, int> MemcpyDtoH;
    public required delegate* unmanaged<ulong, ulong, nuint, int> MemcpyDtoD;
    public required delegate* unmanaged<ulong, void*, nuint, IntPtr, int> MemcpyHtoDAsync;
    public required delegate* unmanaged<void*, ulong, nuint, IntPtr, int> MemcpyDtoHAsync;
    public required delegate* unmanaged<ulong, ulong, nuint, IntPtr, int> MemcpyDtoDAsync;
    public required delegate* unmanaged<ulong, uint, nuint, int> MemsetD32;
    public required delegate* unmanaged<ulong, uint, nuint, IntPtr, int> MemsetD32Async;
    public required delegate* unmanaged<IntPtr*, uint, int> EventCreate;
    public required delegate* unmanaged<IntPtr, IntPtr, int> EventRecord;
    public required delegate* unmanaged<IntPtr, int> EventSynchronize;
    public required delegate* unmanaged<float*, IntPtr, IntPtr, int> EventElapsedTime;
    public required delegate* unmanaged<IntPtr, int> EventDestroy;
    public required delegate* unmanaged<int, byte**, int> GetErrorName;
    public required delegate* unmanaged<int, byte**, int> GetErrorString;

    /// <summary>Where the library was loaded from.</summary>
    public required string Path { get; init; }

    /// <summary>The driver, loaded and bound once per process, or null with the reason it is unusable.</summary>
    public static CudaDriverApi? TryGet(out string reason)
    {
        var (api, why) = Shared.Value;
        reason = why;
        return api;
    }

    /// <summary>The driver, or a <see cref="CudaException"/> saying why there is none.</summary>
    public static CudaDriverApi Get() =>
        TryGet(out var reason) ?? throw new CudaException(reason);

    /// <summary>The driver if it has already been loaded; used to describe errors without loading anything.</summary>
    public static CudaDriverApi? IfLoaded => Shared.IsValueCreated ? Shared.Value.Api : null;

    private static (CudaDriverApi?, string) Load()
    {
        if (!CudaLibraryProbe.TryLoad(CudaLibrary.Driver, null, out var lib, out var from, out var reason)) return (null, reason);
        try
        {
            return (Bind(lib, from), "");
        }
        catch (EntryPointNotFoundException e)
        {
            return (null, $"{from} is too old for Tessera: {e.Message}");
        }
    }

    private static CudaDriverApi Bind(IntPtr lib, string from) => new()
    {
        Path = from,
        Init = (delegate* unmanaged<uint, int>)NativeExports.Require(lib, "cuInit"),
        DriverGetVersion = (delegate* unmanaged<int*, int>)NativeExports.Require(lib, "cuDriverGetVersion"),
        DeviceGetCount = (delegate* unmanaged<int*, int>)NativeExports.Require(lib, "cuDeviceGetCount"),
        DeviceGet = (delegate* unmanaged<int*, int, int>)NativeExports.Require(lib, "cuDeviceGet"),
        DeviceGetName = (delegate* unmanaged<byte*, int, int, int>)NativeExports.Require(lib, "cuDeviceGetName"),
        DeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)NativeExports.Require(lib, "cuDeviceTotalMem_v2", "cuDeviceTotalMem"),
        DeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeExports.Require(lib, "cuDeviceGetAttribute"),
        DevicePrimaryCtxRetain = (delegate* unmanaged<IntPtr*, int, int>)NativeExports.Require(lib, "cuDevicePrimaryCtxRetain"),
        DevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)NativeExports.Require(lib, "cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"),
        CtxCreate = (delegate* unmanaged<IntPtr*, uint, int, int>)NativeExports.Require(lib, "cuCtxCreate_v2", "cuCtxCreate"),
        CtxDestroy = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuCtxDestroy_v2", "cuCtxDestroy"),
        CtxSetCurrent = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuCtxSetCurrent"),
        StreamCreate = (delegate* unmanaged<IntPtr*, uint, int>)NativeExports.Require(lib, "cuStreamCreate"),
        StreamSynchronize = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuStreamSynchronize"),
        StreamDestroy = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuStreamDestroy_v2", "cuStreamDestroy"),
        ModuleLoadData = (delegate* unmanaged<IntPtr*, void*, int>)NativeExports.Require(lib, "cuModuleLoadData"),
        ModuleLoadDataEx = (delegate* unmanaged<IntPtr*, void*, uint, int*, void**, int>)NativeExports.Require(lib, "cuModuleLoadDataEx"),
        ModuleUnload = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuModuleUnload"),
        ModuleGetFunction = (delegate* unmanaged<IntPtr*, IntPtr, byte*, int>)NativeExports.Require(lib, "cuModuleGetFunction"),
        LaunchKernel = (delegate* unmanaged<IntPtr, uint, uint, uint, uint, uint, uint, uint, IntPtr, void**, void**, int>)NativeExports.Require(lib, "cuLaunchKernel"),
        MemAlloc = (delegate* unmanaged<ulong*, nuint, int>)NativeExports.Require(lib, "cuMemAlloc_v2"),
        MemFree = (delegate* unmanaged<ulong, int>)NativeExports.Require(lib, "cuMemFree_v2"),
        MemcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)NativeExports.Require(lib, "cuMemcpyHtoD_v2"),
        MemcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)NativeExports.Require(lib, "cuMemcpyDtoH_v2"),
        MemcpyDtoD = (delegate* unmanaged<ulong, ulong, nuint, int>)NativeExports.Require(lib, "cuMemcpyDtoD_v2"),
        MemcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, IntPtr, int>)NativeExports.Require(lib, "cuMemcpyHtoDAsync_v2"),
        MemcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, IntPtr, int>)NativeExports.Require(lib, "cuMemcpyDtoHAsync_v2"),
        MemcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, IntPtr, int>)NativeExports.Require(lib, "cuMemcpyDtoDAsync_v2"),
        MemsetD32 = (delegate* unmanaged<ulong, uint, nuint, int>)NativeExports.Require(lib, "cuMemsetD32_v2"),
        MemsetD32Async = (delegate* unmanaged<ulong, uint, nuint, IntPtr, int>)NativeExports.Require(lib, "cuMemsetD32Async"),
        EventCreate = (delegate* unmanaged<IntPtr*, uint, int>)NativeExports.Require(lib, "cuEventCreate"),
        EventRecord = (delegate* unmanaged<IntPtr, IntPtr, int>)NativeExports.Require(lib, "cuEventRecord"),
        EventSynchronize = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuEventSynchronize"),
        EventElapsedTime = (delegate* unmanaged<float*, IntPtr, IntPtr, int>)NativeExports.Require(lib, "cuEventElapsedTime_v2", "cuEventElapsedTime"),
        EventDestroy = (delegate* unmanaged<IntPtr, int>)NativeExports.Require(lib, "cuEventDestroy_v2", "cuEventDestroy"),
        GetErrorName = (delegate* unmanaged<int, byte**, int>)NativeExports.Require(lib, "cuGetErrorName"),
        GetErrorString = (delegate* unmanaged<int, byte**, int>)NativeExports.Require(lib, "cuGetErrorString"),
    };

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> unless <paramref name="result"/> is CUDA_SUCCESS.</summary>
    public void Check(int result, string call)
    {
        if (result != 0) throw CudaException.FromDriver(call, result, Describe);
    }

    /// <summary>The driver's own name and description for a CUresult, e.g. ("CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed").</summary>
    public (string? Name, string? Description) Describe(int result)
    {
        byte* name = null, text = null;
        var known = GetErrorName(result, &name) == 0;
        if (known) GetErrorString(result, &text);
        return known ? (NativeExports.Utf8(name), NativeExports.Utf8(text)) : (null, null);
    }
}
