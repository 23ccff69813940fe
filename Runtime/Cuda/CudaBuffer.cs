namespace Tessera.Cuda;

/// <summary>
/// A block of device memory owned by one <see cref="CudaContext"/>. Copies are queued on the context's stream, so they
/// are ordered with its kernels, and return once complete, so the host span may be reused at once. Dispose frees it.
/// </summary>
public sealed unsafe class CudaBuffer : IDisposable
{
    private readonly CudaContext _context;
    private ulong _pointer;

    internal CudaBuffer(CudaContext context, ulong pointer, long byteSize)
    {
        _context = context;
        _pointer = pointer;
        ByteSize = byteSize;
    }

    /// <summary>The CUdeviceptr, for kernel arguments and cuBLAS.</summary>
    public ulong DevicePointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == 0, this);
            return _pointer;
        }
    }

    /// <summary>Size in bytes.</summary>
    public long ByteSize { get; }

    /// <summary>The context the memory belongs to.</summary>
    public CudaContext Context => _context;

    /// <summary>Copies <paramref name="source"/> to the buffer, starting <paramref name="offsetBytes"/> in.</summary>
    public void Upload<T>(ReadOnlySpan<T> source, long offsetBytes = 0) where T : unmanaged
    {
        var bytes = CheckRange(offsetBytes, (long)source.Length * sizeof(T));
        if (bytes == 0) return;
        var api = Bind();
        fixed (T* p = source)
        {
            api.Check(api.MemcpyHtoDAsync(DevicePointer + (ulong)offsetBytes, p, (nuint)bytes, _context.Stream), "cuMemcpyHtoDAsync_v2");
            api.Check(api.StreamSynchronize(_context.Stream), "cuStreamSynchronize");
        }
    }

    /// <summary>Copies <paramref name="source"/> to the buffer.</summary>
    public void Upload<T>(T[] source) where T : unmanaged => Upload<T>(source.AsSpan());

    /// <summary>Copies the buffer, starting <paramref name="offsetBytes"/> in, into <paramref name="destination"/>; waits for queued kernels first.</summary>
    public void Download<T>(Span<T> destination, long offsetBytes = 0) where T : unmanaged
    {
        var bytes = CheckRange(offsetBytes, (long)destination.Length * sizeof(T));
        if (bytes == 0) return;
        var api = Bind();
        fixed (T* p = destination)
        {
            api.Check(api.MemcpyDtoHAsync(p, DevicePointer + (ulong)offsetBytes, (nuint)bytes, _context.Stream), "cuMemcpyDtoHAsync_v2");
            api.Check(api.StreamSynchronize(_context.Stream), "cuStreamSynchronize");
        }
    }

    /// <summary>The whole buffer as an array of <typeparamref name="T"/>.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[ByteSize / sizeof(T)];
        Download<T>(result);
        return result;
    }

    /// <summary>Queues a device-to-device copy of this whole buffer into <paramref name="destination"/> (same context or another on the same GPU).</summary>
    public void CopyTo(CudaBuffer destination, long destinationOffsetBytes = 0)
    {
        destination.CheckRange(destinationOffsetBytes, ByteSize);
        var api = Bind();
        api.Check(api.MemcpyDtoDAsync(destination.DevicePointer + (ulong)destinationOffsetBytes, DevicePointer, (nuint)ByteSize, _context.Stream),
            "cuMemcpyDtoDAsync_v2");
        // The destination's own stream must not run ahead of a copy queued on ours.
        if (destination._context != _context) api.Check(api.StreamSynchronize(_context.Stream), "cuStreamSynchronize");
    }

    /// <summary>
    /// Queues a copy of <paramref name="bytes"/> of <paramref name="source"/> (any context on the same GPU) into this
    /// buffer, on this buffer's stream. The source must be complete: its producer synchronised its own stream.
    /// </summary>
    public void CopyFrom(CudaBuffer source, long bytes, long sourceOffsetBytes = 0, long offsetBytes = 0)
    {
        source.CheckRange(sourceOffsetBytes, bytes);
        CheckRange(offsetBytes, bytes);
        if (bytes == 0) return;
        var api = Bind();
        api.Check(api.MemcpyDtoDAsync(DevicePointer + (ulong)offsetBytes, source.DevicePointer + (ulong)sourceOffsetBytes, (nuint)bytes, _context.Stream),
            "cuMemcpyDtoDAsync_v2");
    }

    /// <summary>Queues filling the buffer with the 32-bit pattern <paramref name="value"/> (0 clears; <c>BitConverter.SingleToUInt32Bits(1f)</c> fills ones).</summary>
    public void Fill(uint value)
    {
        if (ByteSize % 4 != 0) throw new CudaException($"Fill needs a multiple of 4 bytes; the buffer has {ByteSize}.");
        var api = Bind();
        api.Check(api.MemsetD32Async(DevicePointer, value, (nuint)(ByteSize / 4), _context.Stream), "cuMemsetD32Async");
    }

    private CudaDriverApi Bind()
    {
        _context.MakeCurrent();
        return _context.Api;
    }

    private long CheckRange(long offsetBytes, long bytes)
    {
        if (offsetBytes < 0 || bytes < 0 || offsetBytes + bytes > ByteSize)
            throw new ArgumentOutOfRangeException(nameof(offsetBytes), $"{bytes} bytes at offset {offsetBytes} do not fit a {ByteSize}-byte buffer.");
        return bytes;
    }

    /// <summary>Frees the memory (after the context's queued work, which may still use it).</summary>
    public void Dispose()
    {
        if (_pointer == 0) return;
        if (_context.IsDisposed)
        {
            _pointer = 0; // The primary context's last release already freed everything in it.
            return;
        }
        _context.Synchronize();
        _context.Api.Check(_context.Api.MemFree(_pointer), "cuMemFree_v2");
        _pointer = 0;
    }
}
