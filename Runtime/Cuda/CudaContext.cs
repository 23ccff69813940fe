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

    private CudaContext(CudaDriverApi api, CudaDeviceInfo info, int device, IntPtr context, IntPtr stream)
    {
        _api = api;
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
