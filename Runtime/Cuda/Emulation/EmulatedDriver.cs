using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Cuda.Emulation;

/// <summary>
/// The driver API entry points Tessera uses, implemented on the CPU, bound into a <see cref="CudaDriverApi"/> so that
/// contexts, buffers, modules, launches and events run the same code as on a GPU. Device memory is host memory (a
/// device pointer is its address, bounds-checked on every copy); work runs at once, in call order, so streams and
/// events need no queue; a module is a g++-compiled shared library (<see cref="EmulatedModuleCompiler"/>) and a
/// CUfunction its launcher's address. Launches are serialised process-wide: the kernels' static shared memory is
/// one copy per module.
/// </summary>
internal static unsafe class EmulatedDriver
{
    private const int Success = 0, InvalidValue = 1, OutOfMemory = 2, InvalidImage = 200, InvalidPtx = 218,
        InvalidHandle = 400, NotFound = 500, NotSupported = 801;

    private static readonly ConcurrentDictionary<ulong, long> Allocations = new();
    private static readonly ConcurrentDictionary<IntPtr, IntPtr> Modules = new();
    private static readonly ConcurrentDictionary<IntPtr, long> EventTimes = new();
    private static readonly ConcurrentDictionary<int, IntPtr> ErrorTexts = new();
    private static readonly Lock LaunchGate = new();
    private static long _nextHandle = 16;

    /// <summary>The CUcontext every emulated context shares (the emulator has one device).</summary>
    public static readonly IntPtr Context = 1;

    public const string DeviceName = "Tessera CUDA emulator (CPU, g++)";

    public static CudaDriverApi Api { get; } = new()
    {
        Path = DeviceName,
        Init = &Init,
        DriverGetVersion = &DriverGetVersion,
        DeviceGetCount = &DeviceGetCount,
        DeviceGet = &DeviceGet,
        DeviceGetName = &DeviceGetName,
        DeviceTotalMem = &DeviceTotalMem,
        DeviceGetAttribute = &DeviceGetAttribute,
        DevicePrimaryCtxRetain = &DevicePrimaryCtxRetain,
        DevicePrimaryCtxRelease = &DevicePrimaryCtxRelease,
        CtxCreate = &CtxCreate,
        CtxDestroy = &Handle,
        CtxSetCurrent = &Handle,
        StreamCreate = &CreateHandle,
        StreamSynchronize = &Handle,
        StreamDestroy = &Handle,
        ModuleLoadData = &ModuleLoadData,
        ModuleLoadDataEx = &ModuleLoadDataEx,
        ModuleUnload = &ModuleUnload,
        ModuleGetFunction = &ModuleGetFunction,
        LaunchKernel = &LaunchKernel,
        MemAlloc = &MemAlloc,
        MemFree = &MemFree,
        MemcpyHtoD = &MemcpyHtoD,
        MemcpyDtoH = &MemcpyDtoH,
        MemcpyDtoD = &MemcpyDtoD,
        MemcpyHtoDAsync = &MemcpyHtoDAsync,
        MemcpyDtoHAsync = &MemcpyDtoHAsync,
        MemcpyDtoDAsync = &MemcpyDtoDAsync,
        MemsetD32 = &MemsetD32,
        MemsetD32Async = &MemsetD32Async,
        EventCreate = &EventCreate,
        EventRecord = &EventRecord,
        EventSynchronize = &Handle,
        EventElapsedTime = &EventElapsedTime,
        EventDestroy = &EventDestroy,
        GetErrorName = &GetErrorName,
        GetErrorString = &GetErrorString,
    };

    /// <summary>The emulated device as <see cref="CudaDriver.Describe"/> would report it (compute 9.0, the host's memory and cores).</summary>
    public static CudaDeviceInfo Device { get; } = new(0, DeviceName, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, 9, 0, Environment.ProcessorCount);

    /// <summary>Device bytes currently allocated (for tests that check buffers are freed).</summary>
    public static long AllocatedBytes => Allocations.Values.Sum();

    [UnmanagedCallersOnly]
    private static int Init(uint flags) => Success;

    [UnmanagedCallersOnly]
    private static int DriverGetVersion(int* version)
    {
        *version = 13000;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DeviceGetCount(int* count)
    {
        *count = 1;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DeviceGet(int* device, int ordinal)
    {
        if (ordinal != 0) return 101; // CUDA_ERROR_INVALID_DEVICE
        *device = 0;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DeviceGetName(byte* name, int length, int device)
    {
        var bytes = Encoding.UTF8.GetBytes(DeviceName);
        int n = Math.Min(bytes.Length, length - 1);
        bytes.AsSpan(0, n).CopyTo(new Span<byte>(name, length));
        name[n] = 0;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DeviceTotalMem(nuint* bytes, int device)
    {
        *bytes = (nuint)Device.TotalMemory;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DeviceGetAttribute(int* value, int attribute, int device)
    {
        *value = attribute switch
        {
            16 => Device.Multiprocessors,
            75 => Device.ComputeMajor,
            76 => Device.ComputeMinor,
            _ => 0,
        };
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DevicePrimaryCtxRetain(IntPtr* context, int device)
    {
        *context = Context;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int DevicePrimaryCtxRelease(int device) => Success;

    [UnmanagedCallersOnly]
    private static int CtxCreate(IntPtr* context, uint flags, int device)
    {
        *context = Context;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int Handle(IntPtr handle) => handle == IntPtr.Zero ? InvalidHandle : Success;

    [UnmanagedCallersOnly]
    private static int CreateHandle(IntPtr* handle, uint flags)
    {
        *handle = (IntPtr)Interlocked.Increment(ref _nextHandle);
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int ModuleLoadData(IntPtr* module, void* image) => LoadModule(module, image, null, 0);

    [UnmanagedCallersOnly]
    private static int ModuleLoadDataEx(IntPtr* module, void* image, uint count, int* options, void** values)
    {
        // The caller's error log buffer (CU_JIT_ERROR_LOG_BUFFER and its size) receives g++'s messages.
        byte* log = null;
        long logBytes = 0;
        for (int i = 0; i < count; i++)
        {
            if (options[i] == 5) log = (byte*)values[i];
            if (options[i] == 6) logBytes = (long)(nint)values[i];
        }
        return LoadModule(module, image, log, logBytes);
    }

    private static int LoadModule(IntPtr* module, void* image, byte* log, long logBytes)
    {
        try
        {
            string text = Marshal.PtrToStringUTF8((IntPtr)image) ?? "";
            string? library = EmulatedModuleCompiler.Compile(text, out var messages);
            if (library is null)
            {
                if (log != null && logBytes > 0)
                {
                    var bytes = Encoding.UTF8.GetBytes(messages);
                    int n = (int)Math.Min(bytes.Length, logBytes - 1);
                    bytes.AsSpan(0, n).CopyTo(new Span<byte>(log, n));
                    log[n] = 0;
                }
                return text.StartsWith(EmulatedModuleCompiler.ImageMarker, StringComparison.Ordinal) ? InvalidPtx : InvalidImage;
            }
            var handle = NativeLibrary.Load(library);
            Modules[handle] = handle;
            *module = handle;
            return Success;
        }
        catch (Exception)
        {
            return InvalidImage;
        }
    }

    [UnmanagedCallersOnly]
    private static int ModuleUnload(IntPtr module)
    {
        // The library stays mapped: functions looked up from it may still be held, and dlclose gains nothing here.
        return Modules.TryRemove(module, out _) ? Success : InvalidHandle;
    }

    [UnmanagedCallersOnly]
    private static int ModuleGetFunction(IntPtr* function, IntPtr module, byte* name)
    {
        if (!Modules.ContainsKey(module)) return InvalidHandle;
        string kernel = Marshal.PtrToStringUTF8((IntPtr)name) ?? "";
        if (!NativeLibrary.TryGetExport(module, "tessera_launch_" + kernel, out var launcher)) return NotFound;
        *function = launcher;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int LaunchKernel(IntPtr function, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint sharedBytes, IntPtr stream,
        void** parameters, void** extra)
    {
        if (function == IntPtr.Zero) return InvalidHandle;
        if (sharedBytes > 227 * 1024) return InvalidValue; // Hopper's limit per block
        // extra = { CU_LAUNCH_PARAM_BUFFER_POINTER (1), struct*, CU_LAUNCH_PARAM_BUFFER_SIZE (2), size_t*, CU_LAUNCH_PARAM_END (0) }:
        // the launcher lays the kernel's parameters over the struct at their C offsets.
        void* packed = null;
        if (parameters == null && extra != null)
            for (int i = 0; extra[i] != null; i += 2)
                if ((nint)extra[i] == 1) packed = extra[i + 1];
        var launcher = (delegate* unmanaged<void**, void*, uint, uint, uint, uint, uint, uint, uint, int>)function;
        lock (LaunchGate)
            return launcher(parameters, packed, gx, gy, gz, bx, by, bz, sharedBytes);
    }

    [UnmanagedCallersOnly]
    private static int MemAlloc(ulong* pointer, nuint bytes)
    {
        if (bytes == 0) return InvalidValue;
        void* memory = NativeMemory.AlignedAlloc(bytes, 256);
        if (memory == null) return OutOfMemory;
        Allocations[(ulong)memory] = (long)bytes;
        *pointer = (ulong)memory;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int MemFree(ulong pointer)
    {
        if (!Allocations.TryRemove(pointer, out _)) return InvalidValue;
        NativeMemory.AlignedFree((void*)pointer);
        return Success;
    }

    /// <summary>Whether [pointer, pointer + bytes) lies inside one allocation: a copy outside it is the emulator's illegal address.</summary>
    private static bool IsDevice(ulong pointer, nuint bytes)
    {
        foreach (var (start, size) in Allocations)
            if (pointer >= start && pointer + bytes <= start + (ulong)size) return true;
        return false;
    }

    private static int Copy(void* destination, void* source, nuint bytes)
    {
        Buffer.MemoryCopy(source, destination, bytes, bytes);
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int MemcpyHtoD(ulong destination, void* source, nuint bytes) =>
        IsDevice(destination, bytes) ? Copy((void*)destination, source, bytes) : InvalidValue;

    [UnmanagedCallersOnly]
    private static int MemcpyDtoH(void* destination, ulong source, nuint bytes) =>
        IsDevice(source, bytes) ? Copy(destination, (void*)source, bytes) : InvalidValue;

    [UnmanagedCallersOnly]
    private static int MemcpyDtoD(ulong destination, ulong source, nuint bytes) =>
        IsDevice(destination, bytes) && IsDevice(source, bytes) ? Copy((void*)destination, (void*)source, bytes) : InvalidValue;

    [UnmanagedCallersOnly]
    private static int MemcpyHtoDAsync(ulong destination, void* source, nuint bytes, IntPtr stream) =>
        IsDevice(destination, bytes) ? Copy((void*)destination, source, bytes) : InvalidValue;

    [UnmanagedCallersOnly]
    private static int MemcpyDtoHAsync(void* destination, ulong source, nuint bytes, IntPtr stream) =>
        IsDevice(source, bytes) ? Copy(destination, (void*)source, bytes) : InvalidValue;

    [UnmanagedCallersOnly]
    private static int MemcpyDtoDAsync(ulong destination, ulong source, nuint bytes, IntPtr stream) =>
        IsDevice(destination, bytes) && IsDevice(source, bytes) ? Copy((void*)destination, (void*)source, bytes) : InvalidValue;

    private static int Fill(ulong destination, uint value, nuint count)
    {
        if (!IsDevice(destination, count * 4)) return InvalidValue;
        new Span<uint>((void*)destination, checked((int)count)).Fill(value);
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int MemsetD32(ulong destination, uint value, nuint count) => Fill(destination, value, count);

    [UnmanagedCallersOnly]
    private static int MemsetD32Async(ulong destination, uint value, nuint count, IntPtr stream) => Fill(destination, value, count);

    [UnmanagedCallersOnly]
    private static int EventCreate(IntPtr* handle, uint flags)
    {
        *handle = (IntPtr)Interlocked.Increment(ref _nextHandle);
        EventTimes[*handle] = 0;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int EventRecord(IntPtr handle, IntPtr stream)
    {
        if (!EventTimes.ContainsKey(handle)) return InvalidHandle;
        EventTimes[handle] = Stopwatch.GetTimestamp();
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int EventElapsedTime(float* milliseconds, IntPtr start, IntPtr end)
    {
        if (!EventTimes.TryGetValue(start, out var a) || !EventTimes.TryGetValue(end, out var b)) return InvalidHandle;
        *milliseconds = (float)Stopwatch.GetElapsedTime(a, b).TotalMilliseconds;
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int EventDestroy(IntPtr handle) => EventTimes.TryRemove(handle, out _) ? Success : InvalidHandle;

    [UnmanagedCallersOnly]
    private static int GetErrorName(int code, byte** name)
    {
        *name = (byte*)Text(code, CudaErrorNames.Driver(code) ?? $"CUDA_ERROR_{code}");
        return Success;
    }

    [UnmanagedCallersOnly]
    private static int GetErrorString(int code, byte** text)
    {
        string description = code switch
        {
            InvalidImage => "the CUDA emulator loads CUDA C source only (CudaContext.LoadProgram)",
            InvalidPtx => "the CUDA emulator could not compile the program with g++",
            NotSupported => "the CUDA emulator does not support this call",
            719 => "the CUDA emulator found the block deadlocked: threads wait at a barrier (__syncthreads, a warp shuffle) that others never reach",
            InvalidValue => "invalid argument (for a copy: a range outside every emulated allocation)",
            _ => CudaErrorNames.Driver(code) ?? "unknown error",
        };
        *text = (byte*)Text(-code - 1, description);
        return Success;
    }

    private static IntPtr Text(int key, string text) => ErrorTexts.GetOrAdd(key, _ => Marshal.StringToCoTaskMemUTF8(text));
}
