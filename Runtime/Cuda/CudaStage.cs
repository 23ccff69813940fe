using System.Runtime.CompilerServices;
using Tessera.Parallelism;

namespace Tessera.Cuda;

/// <summary>
/// What a generated CUDA rank program runs on: its context and stream, its kernels (the model's CUDA program, compiled
/// by NVRTC once per machine through the <see cref="KernelCache"/>), cuBLAS, its weights in device memory, activation
/// buffers that grow with the batch, and the KV cache of each sequence. Generated code calls these few primitives
/// in the same order as the CPU kernels, so both back ends read alike.
/// Collectives and stage boundaries go through host memory (the transports are the CPU ones): correct on any set of
/// devices; device-to-device copies are the next step on one physical GPU.
/// </summary>
public sealed class CudaStage : IDisposable
{
    /// <summary>Threads per block of the generated kernels (their BLOCK macro).</summary>
    public const int Block = 256;

    private readonly CudaModule _module;
    private readonly Dictionary<string, CudaFunction> _functions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CudaBuffer> _slots = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<float[], CudaBuffer> _weights = new();
    private readonly List<CudaBuffer> _weightBuffers = new();
    private readonly ConditionalWeakTable<Cpu.WeightMatrix, CudaBuffer> _widened = new();
    private readonly ConditionalWeakTable<KvCache, SequenceCache> _caches = new();
    private readonly List<SequenceCache> _cacheList = new();
    private float[] _staging = [];

    /// <param name="context">the virtual device's context (several may share one GPU)</param>
    /// <param name="program">the model's CUDA program with this rank's sizes defined (CudaProgram(config, tensorDegree))</param>
    /// <param name="kernels">compiles once per machine</param>
    /// <param name="layers">layers of this stage</param>
    /// <param name="kvWidth">this rank's kv heads x head dim</param>
    public CudaStage(CudaContext context, string program, KernelCache kernels, int layers, int kvWidth)
    {
        Context = context;
        Layers = layers;
        KvWidth = kvWidth;
        _module = context.LoadProgram(program, "tessera_model.cu", kernels);
        Blas = new CudaBlas(context);
    }

    public CudaContext Context { get; }

    public CudaBlas Blas { get; }

    public int Layers { get; }

    public int KvWidth { get; }

    /// <summary>Device bytes of weights uploaded.</summary>
    public long WeightBytes => _weightBuffers.Sum(b => b.ByteSize);

    /// <summary>Device bytes of activation buffers.</summary>
    public long WorkspaceBytes => _slots.Values.Sum(b => b.ByteSize);

    /// <summary>The device copy of a host weight (uploaded on first use; the host array can then be dropped by its owner).</summary>
    public CudaBuffer Weight(float[] host)
    {
        if (_weights.TryGetValue(host, out var buffer)) return buffer;
        buffer = Context.Allocate<float>(Math.Max(1, host.LongLength));
        buffer.Upload(host);
        _weights.Add(host, buffer);
        _weightBuffers.Add(buffer);
        return buffer;
    }

    /// <summary>The device copy of a host weight matrix (uploaded as F32 whatever its host precision).</summary>
    public CudaBuffer Weight(Cpu.WeightMatrix host)
    {
        if (host.F32 is { } f32) return Weight(f32);
        if (_widened.TryGetValue(host, out var buffer)) return buffer;
        buffer = Weight(host.ToF32());
        _widened.Add(host, buffer);
        return buffer;
    }

    /// <summary>A named activation buffer of at least <paramref name="floats"/> floats (grown, never shrunk).</summary>
    public CudaBuffer Slot(string name, long floats)
    {
        long bytes = Math.Max(4, floats * sizeof(float));
        if (_slots.TryGetValue(name, out var buffer) && buffer.ByteSize >= bytes) return buffer;
        buffer?.Dispose();
        buffer = Context.Allocate(bytes);
        _slots[name] = buffer;
        return buffer;
    }

    /// <summary>Host ints (token ids, positions) in a named device buffer.</summary>
    public CudaBuffer Ints(string name, int[] values)
    {
        var buffer = Slot(name, values.Length);
        buffer.Upload<int>(values);
        return buffer;
    }

    /// <summary>Host floats (activations from the previous stage) in a named device buffer.</summary>
    public CudaBuffer Floats(string name, float[] values, int count)
    {
        var buffer = Slot(name, count);
        buffer.Upload<float>(values.AsSpan(0, count));
        return buffer;
    }

    /// <summary>The first <paramref name="count"/> floats of a device buffer, on the host.</summary>
    public float[] Download(CudaBuffer buffer, int count)
    {
        var host = new float[count];
        buffer.Download<float>(host);
        return host;
    }

    /// <summary>y (T, N) = x (T, K) · wᵀ on cuBLAS.</summary>
    public void Gemm(CudaBuffer y, CudaBuffer x, CudaBuffer w, int rows, int n, int k) => Blas.Gemm(y, x, w, rows, n, k);

    /// <summary>A kernel with one block per row.</summary>
    public void LaunchRows(string kernel, int rows, params object[] args) => _module.Launch(Function(kernel), rows, Block, 0, args);

    /// <summary>A grid-stride element-wise kernel over <paramref name="count"/> elements (its count argument is passed by the caller).</summary>
    public void LaunchElements(string kernel, long count, params object[] args) =>
        _module.Launch(Function(kernel), (int)Math.Clamp((count + Block - 1) / Block, 1, 65535), Block, 0, args);

    /// <summary>Attention: one block per (row, local query head), the scores of the longest context in shared memory.</summary>
    public void LaunchAttention(string kernel, int rows, int heads, int context, params object[] args) =>
        _module.Launch(Function(kernel), new Dim3((uint)rows, (uint)heads), Block, context * sizeof(float), args);

    /// <summary>
    /// Per-row device pointers to the keys and values of <paramref name="layer"/> in each row's sequence cache (the
    /// attention kernels index the cache through them), creating a sequence's device cache on first use.
    /// </summary>
    public (CudaBuffer Keys, CudaBuffer Values) CacheRows(TokenBatch batch, int layer, int firstLayer)
    {
        var keys = new ulong[batch.Rows];
        var values = new ulong[batch.Rows];
        for (int r = 0; r < batch.Rows; r++)
        {
            var cache = CacheOf(batch.Caches[batch.SequenceOfRow[r]]);
            keys[r] = cache.Keys[layer - firstLayer].DevicePointer;
            values[r] = cache.Values[layer - firstLayer].DevicePointer;
        }
        var keyTable = Slot("cache_keys", batch.Rows * 2L);
        var valueTable = Slot("cache_values", batch.Rows * 2L);
        keyTable.Upload<ulong>(keys);
        valueTable.Upload<ulong>(values);
        return (keyTable, valueTable);
    }

    /// <summary>The longest context any row of the batch attends to (for the attention kernel's shared memory).</summary>
    public static int LongestContext(TokenBatch batch) => batch.Positions.Max() + 1;

    /// <summary>Sums a row-parallel product's partial results over the tensor group (through host memory).</summary>
    public void AllReduce(CudaBuffer y, int count, ITensorGroup group)
    {
        if (group.Size == 1) return;
        if (_staging.Length < count) _staging = new float[count];
        y.Download<float>(_staging.AsSpan(0, count));
        group.AllReduceSum(_staging, count);
        y.Upload<float>(_staging.AsSpan(0, count));
    }

    private SequenceCache CacheOf(KvCache handle)
    {
        if (_caches.TryGetValue(handle, out var cache)) return cache;
        cache = new SequenceCache(Context, Layers, handle.Capacity, KvWidth);
        _caches.Add(handle, cache);
        _cacheList.Add(cache);
        return cache;
    }

    private CudaFunction Function(string name)
    {
        if (!_functions.TryGetValue(name, out var function)) _functions[name] = function = _module.GetFunction(name);
        return function;
    }

    public void Dispose()
    {
        foreach (var b in _slots.Values) b.Dispose();
        foreach (var b in _weightBuffers) b.Dispose();
        foreach (var c in _cacheList) c.Dispose();
        Blas.Dispose();
        _module.Dispose();
    }

    /// <summary>One sequence's keys and values on the device: (capacity, kvWidth) per layer.</summary>
    private sealed class SequenceCache : IDisposable
    {
        public SequenceCache(CudaContext context, int layers, int capacity, int kvWidth)
        {
            Keys = Enumerable.Range(0, layers).Select(_ => context.Allocate<float>((long)capacity * kvWidth)).ToArray();
            Values = Enumerable.Range(0, layers).Select(_ => context.Allocate<float>((long)capacity * kvWidth)).ToArray();
        }

        public CudaBuffer[] Keys { get; }

        public CudaBuffer[] Values { get; }

        public void Dispose()
        {
            foreach (var b in Keys) b.Dispose();
            foreach (var b in Values) b.Dispose();
        }
    }
}
