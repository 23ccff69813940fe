using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Cuda;

/// <summary>
/// A PTX module loaded into a <see cref="CudaContext"/> (the driver JIT-compiles it for the GPU), its kernels, and
/// their launches. Launches are queued on the context's stream and return at once.
/// </summary>
public sealed unsafe class CudaModule : IDisposable
{
    private const int JitInfoLogBuffer = 3;           // CU_JIT_INFO_LOG_BUFFER
    private const int JitInfoLogBufferBytes = 4;      // CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES
    private const int JitErrorLogBuffer = 5;          // CU_JIT_ERROR_LOG_BUFFER
    private const int JitErrorLogBufferBytes = 6;     // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
    private const int LogBytes = 16 * 1024;

    private readonly CudaContext _context;
    private IntPtr _module;

    private CudaModule(CudaContext context, IntPtr module)
    {
        _context = context;
        _module = module;
    }

    /// <summary>Blocks needed to cover <paramref name="n"/> items with <paramref name="block"/> per block.</summary>
    public static int CeilDiv(int n, int block) => (n + block - 1) / block;

    internal static CudaModule Load(CudaContext context, string ptx)
    {
        context.MakeCurrent();
        var api = context.Api;
        var image = Encoding.UTF8.GetBytes(ptx + "\0");
        var errorLog = new byte[LogBytes];
        var infoLog = new byte[LogBytes];
        IntPtr module;
        int result;
        fixed (byte* img = image, err = errorLog, info = infoLog)
        {
            // The JIT's own log says which PTX line it rejected; cuGetErrorString alone only says "PTX JIT failed".
            int* options = stackalloc int[] { JitErrorLogBuffer, JitErrorLogBufferBytes, JitInfoLogBuffer, JitInfoLogBufferBytes };
            void** values = stackalloc void*[] { err, (void*)(nint)LogBytes, info, (void*)(nint)LogBytes };
            result = api.ModuleLoadDataEx(&module, img, 4, options, values);
        }
        if (result != 0)
            throw CudaException.FromDriver("cuModuleLoadData", result, api.Describe, Encoding.UTF8.GetString(errorLog).TrimEnd('\0'));
        return new CudaModule(context, module);
    }

    /// <summary>The kernel named <paramref name="name"/>.</summary>
    /// <exception cref="CudaException">No such entry (CUDA_ERROR_NOT_FOUND): check it is <c>extern "C"</c>.</exception>
    public CudaFunction GetFunction(string name)
    {
        _context.MakeCurrent();
        ObjectDisposedException.ThrowIf(_module == IntPtr.Zero, this);
        IntPtr function;
        var api = _context.Api;
        fixed (byte* n = Encoding.UTF8.GetBytes(name + "\0"))
        {
            var result = api.ModuleGetFunction(&function, _module, n);
            if (result != 0) throw CudaException.FromDriver($"cuModuleGetFunction(\"{name}\")", result, api.Describe);
        }
        return new CudaFunction(function, name);
    }

    /// <summary>
    /// Queues <paramref name="function"/> with one argument per kernel parameter: a <see cref="CudaBuffer"/> becomes its
    /// device pointer; numbers (int, uint, long, ulong, float, double, short, ushort, byte, sbyte, bool, Half, nint) are
    /// passed by value. The types must match the kernel's parameters exactly (an int for an <c>int</c>, not a long).
    /// </summary>
    public void Launch(CudaFunction function, Dim3 grid, Dim3 block, int sharedMemoryBytes, params object[] args)
    {
        // Each argument gets an 8-byte slot; cuLaunchKernel copies the values before it returns.
        ulong* slots = stackalloc ulong[Math.Max(args.Length, 1)];
        void** pointers = stackalloc void*[Math.Max(args.Length, 1)];
        for (var i = 0; i < args.Length; i++)
        {
            var slot = (byte*)(slots + i);
            switch (args[i])
            {
                case CudaBuffer b: *(ulong*)slot = b.DevicePointer; break;
                case int v: *(int*)slot = v; break;
                case uint v: *(uint*)slot = v; break;
                case long v: *(long*)slot = v; break;
                case ulong v: *(ulong*)slot = v; break;
                case float v: *(float*)slot = v; break;
                case double v: *(double*)slot = v; break;
                case short v: *(short*)slot = v; break;
                case ushort v: *(ushort*)slot = v; break;
                case byte v: *slot = v; break;
                case sbyte v: *(sbyte*)slot = v; break;
                case bool v: *slot = v ? (byte)1 : (byte)0; break;
                case Half v: *(Half*)slot = v; break;
                case nint v: *(nint*)slot = v; break;
                default:
                    throw new ArgumentException($"Argument {i} of {function.Name} has type {args[i]?.GetType().Name ?? "null"}, which a kernel cannot take.", nameof(args));
            }
            pointers[i] = slot;
        }
        LaunchRaw(function, grid, block, sharedMemoryBytes, pointers, null);
    }

    /// <summary>
    /// Queues <paramref name="function"/> with its arguments packed in one struct (CU_LAUNCH_PARAM_BUFFER_POINTER): the
    /// struct's fields, in order, are the kernel's parameters. Use <see cref="LayoutKind.Sequential"/> (the default)
    /// and <see cref="ulong"/> for pointers (<see cref="CudaBuffer.DevicePointer"/>), so its layout is the C layout the
    /// kernel expects. Generated launchers use this form: no boxing, one copy.
    /// </summary>
    public void Launch<TArgs>(CudaFunction function, Dim3 grid, Dim3 block, int sharedMemoryBytes, in TArgs args) where TArgs : unmanaged
    {
        var copy = args;
        var size = (nuint)sizeof(TArgs);
        void** extra = stackalloc void*[] { (void*)1, &copy, (void*)2, &size, null }; // BUFFER_POINTER, BUFFER_SIZE, END
        LaunchRaw(function, grid, block, sharedMemoryBytes, null, extra);
    }

    private void LaunchRaw(CudaFunction function, Dim3 grid, Dim3 block, int sharedMemoryBytes, void** kernelParams, void** extra)
    {
        ObjectDisposedException.ThrowIf(_module == IntPtr.Zero, this);
        ArgumentOutOfRangeException.ThrowIfNegative(sharedMemoryBytes);
        _context.MakeCurrent();
        var api = _context.Api;
        var result = api.LaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z,
            (uint)sharedMemoryBytes, _context.Stream, kernelParams, extra);
        if (result != 0)
            throw CudaException.FromDriver($"cuLaunchKernel({function.Name}, grid {grid}, block {block}, {sharedMemoryBytes} B shared)", result, api.Describe);
    }

    /// <summary>Unloads the module (after queued work that may use it).</summary>
    public void Dispose()
    {
        if (_module == IntPtr.Zero || _context.IsDisposed) return;
        _context.Synchronize();
        _context.Api.ModuleUnload(_module);
        _module = IntPtr.Zero;
    }
}
