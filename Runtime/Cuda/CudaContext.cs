namespace Tessera.Cuda;

/// <summary>
/// One virtual CUDA device: a physical GPU's primary context plus a stream of our own. Several contexts may share one
/// GPU (tensor-parallel ranks on a single card): they share the primary context, which the driver reference-counts,
/// and each gets its own stream, so their work is ordered per rank as on a CPU device's worker. Every operation makes
/// the context current on the calling thread first, so a context can be used from any thread.
/// <code>
/// using var gpu = CudaContext.Create(0);
/// using var x = gpu.Allocate&lt;float&gt;(n);
/// x.Upload(hostData);
/// using var module = gpu.LoadModule(ptx);
/// module.Launch(module.GetFunction("saxpy"), CudaModule.CeilDiv(n, 256), 256, 0, n, 2f, x, y);
/// y.Download(result);
/// </code>
/// </summary>
public sealed unsafe class CudaContext : IDisposable
{
    private readonly CudaDriverApi _api;
    private readonly IntPtr _context;
    private readonly int _device;
    private IntPtr _stream;
    private readonly CublasApi? _blas;

    private CudaContext(CudaDriverApi api, CudaDeviceInfo info, int device, IntPtr context, IntPtr stream, CublasApi? blas = null)
    {
        _api = api;
        _blas = blas;
        Device = info;
        _device = device;
        _context = context;
        _stream = stream;
    }

    /// <summary>A context on device <paramref name="ordinal"/> with its own stream.</summary>
    /// <exception cref="CudaException">No driver, no such device, or a driver call failed.</exception>
    public static CudaContext Create(int ordinal = 0)
    {
        var api = CudaDriver.Initialized();
        var info = CudaDriver.Describe(ordinal);
        int device;
        IntPtr context, stream;
        api.Check(api.DeviceGet(&device, ordinal), "cuDeviceGet");
        api.Check(api.DevicePrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        try
        {
            api.Check(api.CtxSetCurrent(context), "cuCtxSetCurrent");
            // Flags 0 (CU_STREAM_DEFAULT): the stream still synchronises with the legacy default stream, so a
            // synchronous cuMemcpy anywhere in the process cannot race our kernels.
            api.Check(api.StreamCreate(&stream, 0), "cuStreamCreate");
        }
        catch
        {
            api.DevicePrimaryCtxRelease(device);
            throw;
        }
        return new CudaContext(api, info, device, context, stream);
    }

    /// <summary>
    /// A context on the CUDA emulator: the same driver calls, buffers, launches and cuBLAS products, run on the CPU
    /// with every kernel compiled by g++ (one fiber per GPU thread). For checking the CUDA back end where there is no
    /// GPU, as ILGPU's CPU accelerator is for ILGPU; slow, and only as exact as g++'s float arithmetic.
    /// </summary>
    /// <exception cref="CudaException">No g++ on the PATH, or not Linux on x86-64.</exception>
    public static CudaContext CreateEmulated()
    {
        if (Emulation.EmulatedModuleCompiler.FindCompiler(out var reason) is null) throw new CudaException(reason);
        var api = Emulation.EmulatedDriver.Api;
        IntPtr context, stream;
        api.Check(api.DevicePrimaryCtxRetain(&context, 0), "cuDevicePrimaryCtxRetain");
        api.Check(api.StreamCreate(&stream, 0), "cuStreamCreate");
        return new CudaContext(api, Emulation.EmulatedDriver.Device, 0, context, stream, Emulation.EmulatedBlas.Api);
    }

    /// <summary>Whether the emulator can run here; if not, <paramref name="reason"/> says why.</summary>
    public static bool CanEmulate(out string reason) => Emulation.EmulatedModuleCompiler.FindCompiler(out reason) is not null;

    /// <summary>Whether this context is the CPU emulator's rather than a GPU's.</summary>
    public bool IsEmulated => ReferenceEquals(_api, Emulation.EmulatedDriver.Api);

    /// <summary>The GPU this context runs on.</summary>
    public CudaDeviceInfo Device { get; }

    /// <summary>The virtual architecture to compile kernels for, e.g. "compute_90".</summary>
    public string Architecture => Device.Architecture;

    /// <summary>The CUstream all of this context's work is queued on.</summary>
    public IntPtr Stream
    {
        get
        {
            ObjectDisposedException.ThrowIf(_stream == IntPtr.Zero, this);
            return _stream;
        }
    }

    internal CudaDriverApi Api => _api;

    /// <summary>cuBLAS for this context: the emulator's on an emulated context, else the library's (null with a reason when missing).</summary>
    internal CublasApi? BlasApi(out string reason)
    {
        reason = "";
        return _blas ?? CublasApi.TryGet(out reason);
    }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _stream == IntPtr.Zero;

    /// <summary>Makes this context current on the calling thread (cheap; done by every operation).</summary>
    public void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_stream == IntPtr.Zero, this);
        _api.Check(_api.CtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    /// <summary>Waits until all work queued on this context's stream has finished.</summary>
    public void Synchronize()
    {
        MakeCurrent();
        _api.Check(_api.StreamSynchronize(_stream), "cuStreamSynchronize");
    }

    /// <summary>Allocates <paramref name="bytes"/> of device memory (uninitialised).</summary>
    public CudaBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        ulong pointer;
        _api.Check(_api.MemAlloc(&pointer, (nuint)bytes), "cuMemAlloc_v2");
        return new CudaBuffer(this, pointer, bytes);
    }

    /// <summary>Allocates room for <paramref name="count"/> elements of <typeparamref name="T"/>.</summary>
    public CudaBuffer Allocate<T>(long count) where T : unmanaged => Allocate(count * sizeof(T));

    /// <summary>Loads a PTX module (JIT-compiled by the driver for this GPU).</summary>
    public CudaModule LoadModule(string ptx) => CudaModule.Load(this, ptx);

    /// <summary>
    /// Compiles a CUDA C program for this context and loads it: NVRTC through <paramref name="kernels"/> (once per
    /// machine) to PTX for this GPU's architecture, or, on an emulated context, g++ to a library of the same kernels.
    /// </summary>
    /// <param name="source">the CUDA C, its kernels <c>extern "C"</c></param>
    /// <param name="name">the file name compile errors are reported against</param>
    /// <param name="kernels">the NVRTC compiler and its disk cache (unused on an emulated context)</param>
    /// <exception cref="CudaException">The program does not compile (the message carries the compiler's log).</exception>
    public CudaModule LoadProgram(string source, string name, KernelCache kernels) =>
        IsEmulated
            ? LoadModule(Emulation.EmulatedModuleCompiler.Image(source))
            : LoadModule(kernels.GetOrCompile(source, name, Architecture).GetPtxOrThrow());

    /// <summary>An event on this context's stream, for timing.</summary>
    public CudaEvent CreateEvent() => new(this);

    /// <summary>Destroys the stream and releases the primary context (the last release tears it down).</summary>
    public void Dispose()
    {
        if (_stream == IntPtr.Zero) return;
        _api.CtxSetCurrent(_context);
        _api.StreamSynchronize(_stream);
        _api.StreamDestroy(_stream);
        _stream = IntPtr.Zero;
        _api.DevicePrimaryCtxRelease(_device);
    }

    /// <summary>"cuda:0 NVIDIA H100 ... (sm_90, ...)".</summary>
    public override string ToString() => Device.ToString();
}
