namespace Tessera.Cuda;

/// <summary>
/// A CUDA event on a context's stream, for timing GPU work without the host clock's launch overhead:
/// record one before and one after, then <see cref="ElapsedMilliseconds"/>.
/// </summary>
public sealed unsafe class CudaEvent : IDisposable
{
    private readonly CudaContext _context;
    private IntPtr _event;

    internal CudaEvent(CudaContext context)
    {
        _context = context;
        context.MakeCurrent();
        IntPtr handle;
        context.Api.Check(context.Api.EventCreate(&handle, 0), "cuEventCreate"); // CU_EVENT_DEFAULT: timing enabled
        _event = handle;
    }

    /// <summary>Queues the event on the context's stream.</summary>
    public void Record()
    {
        _context.MakeCurrent();
        _context.Api.Check(_context.Api.EventRecord(Handle, _context.Stream), "cuEventRecord");
    }

    /// <summary>Waits until the GPU has passed the event.</summary>
    public void Synchronize()
    {
        _context.MakeCurrent();
        _context.Api.Check(_context.Api.EventSynchronize(Handle), "cuEventSynchronize");
    }

    /// <summary>GPU time between two recorded events, in milliseconds (about 0.5 µs resolution); waits for <paramref name="end"/>.</summary>
    public static float ElapsedMilliseconds(CudaEvent start, CudaEvent end)
    {
        end.Synchronize();
        float ms;
        end._context.Api.Check(end._context.Api.EventElapsedTime(&ms, start.Handle, end.Handle), "cuEventElapsedTime");
        return ms;
    }

    /// <summary>Runs <paramref name="work"/> (which queues GPU work on <paramref name="context"/>) between two events and returns the GPU milliseconds.</summary>
    public static float Time(CudaContext context, Action work)
    {
        using var start = context.CreateEvent();
        using var end = context.CreateEvent();
        start.Record();
        work();
        end.Record();
        return ElapsedMilliseconds(start, end);
    }

    private IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_event == IntPtr.Zero, this);
            return _event;
        }
    }

    /// <summary>Destroys the event.</summary>
    public void Dispose()
    {
        if (_event == IntPtr.Zero || _context.IsDisposed) return;
        _context.MakeCurrent();
        _context.Api.EventDestroy(_event);
        _event = IntPtr.Zero;
    }
}
