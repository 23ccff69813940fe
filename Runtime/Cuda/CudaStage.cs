using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Tessera.Parallelism;

namespace Tessera.Cuda;

/// <summary>
/// What a generated CUDA rank program runs on: its context and stream, its kernels (the model's CUDA program, compiled
/// by NVRTC once per machine through the <see cref="KernelCache"/>), cuBLAS, its weights in device memory, activation
/// buffers that grow with the batch, and the KV cache of each sequence. Generated code calls these few primitives
/// in the same order as the CPU kernels, so both back ends read alike.
/// Between virtual devices on one GPU, collectives read the peers' device buffers directly (the ranks meet through
/// <see cref="ICollectiveGroup.Exchange"/>) and stage boundaries pass device buffers (<see cref="IStageLink.SendMessage"/>):
/// no host round trip. Between different GPUs they fall back to host memory.
/// </summary>
public sealed class CudaStage : IDisposable
{
    /// <summary>Threads per block of the generated kernels (their BLOCK macro).</summary>
    public const int Block = 256;

    /// <summary>Up to this many rows, a product with bf16 weights runs the GEMV kernel (weights read once); above, TF32 cuBLAS.</summary>
    public const int GemvMaxRows = 8;

    private readonly CudaModule _module;
    private readonly Dictionary<string, CudaFunction> _functions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CudaBuffer> _slots = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<float[], CudaBuffer> _weights = new();
    private readonly List<CudaBuffer> _weightBuffers = new();
    private readonly ConditionalWeakTable<Cpu.WeightMatrix, CudaBuffer> _matrices = new();
    private readonly HashSet<CudaBuffer> _bf16 = new(ReferenceEqualityComparer.Instance);
    private readonly ConcurrentBag<CudaBuffer> _outbox = new(); // device buffers for outgoing activations, given back by the receiver
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

    /// <summary>The device copy of a host weight matrix, in its precision: bf16 matrices stay bf16 on the device (half the bytes).</summary>
    public CudaBuffer Weight(Cpu.WeightMatrix host)
    {
        if (host.F32 is { } f32) return Weight(f32);
        if (_matrices.TryGetValue(host, out var buffer)) return buffer;
        var bits = host.BF16!;
        buffer = Context.Allocate<ushort>(Math.Max(1, bits.LongLength));
        buffer.Upload(bits);
        _matrices.Add(host, buffer);
        _weightBuffers.Add(buffer);
        _bf16.Add(buffer);
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

    /// <summary>
    /// y (T, N) = x (T, K) · wᵀ. F32 weights: cuBLAS sgemm. BF16 weights: the GEMV kernel up to <see cref="GemvMaxRows"/>
    /// rows (decode reads each weight once, as bf16), else the matrix widened to fp32 on the device and multiplied on
    /// TF32 tensor cores (exact for bf16 weights; the activations keep 10 mantissa bits rather than bf16's 7).
    /// </summary>
    public void Gemm(CudaBuffer y, CudaBuffer x, CudaBuffer w, int rows, int n, int k)
    {
        if (!_bf16.Contains(w))
        {
            Blas.Gemm(y, x, w, rows, n, k);
            return;
        }
        if (rows <= GemvMaxRows)
        {
            _module.Launch(Function("tessera_gemv_bf16"), (int)Math.Min(int.MaxValue, ((long)n * 32 + Block - 1) / Block), Block, 0, y, x, w, rows, n, k);
            return;
        }
        long count = (long)n * k;
        var widened = Slot("widened_weight", count);
        LaunchElements("tessera_widen_bf16", count, widened, w, count);
        Blas.GemmTf32(y, x, widened, rows, n, k);
    }

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

    /// <summary>
    /// Sums a row-parallel product's partial results over the tensor group. On one GPU: every rank adds its peers'
    /// buffers, read in place, in rank order (so all ranks get bit-identical sums, as on the CPU), into a scratch
    /// buffer, and copies it back once all have read. Across GPUs: through host memory.
    /// </summary>
    public void AllReduce(CudaBuffer y, int count, ICollectiveGroup group)
    {
        if (group.Size == 1) return;
        long bytes = (long)count * sizeof(float);
        if (PeersOnThisGpu(y, group, bytes * (group.Size - 1)) is not { } partials)
        {
            if (_staging.Length < count) _staging = new float[count];
            y.Download<float>(_staging.AsSpan(0, count));
            group.AllReduceSum(_staging, count);
            y.Upload<float>(_staging.AsSpan(0, count));
            return;
        }
        var sum = Slot("all_reduce_sum", count);
        sum.CopyFrom(partials[0], bytes);
        for (int r = 1; r < partials.Length; r++) LaunchElements("tessera_add_inplace", count, sum, partials[r], (long)count);
        Context.Synchronize();
        group.Barrier(); // every rank has read every partial: each may now overwrite its own
        y.CopyFrom(sum, bytes);
    }

    /// <summary>
    /// The logits of the head's output on the host: this rank's (rows, localWidth), or with a vocab-sharded head the
    /// full rows gathered from every tensor rank (on the device when the ranks share a GPU).
    /// </summary>
    /// <param name="vocab">the vocabulary when the head is padded to the degree (its columns past it are dropped); 0: not padded</param>
    public float[] Logits(CudaBuffer local, int rows, int localWidth, ICollectiveGroup group, int vocab = 0)
    {
        var logits = GatherLogits(local, rows, localWidth, group);
        int width = localWidth * group.Size;
        if (vocab <= 0 || vocab == width) return logits;
        var trimmed = new float[(long)rows * vocab];
        Cpu.CpuKernels.CopyColumns(logits, rows, width, 0, vocab, trimmed);
        return trimmed;
    }

    private float[] GatherLogits(CudaBuffer local, int rows, int localWidth, ICollectiveGroup group)
    {
        int count = rows * localWidth;
        if (group.Size == 1) return Download(local, count);
        if (PeersOnThisGpu(local, group, (long)count * sizeof(float) * (group.Size - 1)) is not { } shards)
        {
            var full = new float[count * group.Size];
            group.AllGatherColumns(Download(local, count), rows, localWidth, full);
            return full;
        }
        int fullWidth = localWidth * group.Size;
        var gathered = Slot("logits_all_ranks", (long)rows * fullWidth);
        for (int r = 0; r < shards.Length; r++)
            _module.Launch(Function("tessera_scatter_columns"), rows, Block, 0, gathered, shards[r], localWidth, fullWidth, r * localWidth);
        var logits = Download(gathered, rows * fullWidth); // waits for the copies, so peers may reuse their buffers after the barrier
        group.Barrier();
        return logits;
    }

    /// <summary>
    /// The rows of <paramref name="hidden"/> (T, width) whose logits the batch wants, so the head multiplies only those:
    /// the buffer itself when every row is wanted, else a gathered copy.
    /// </summary>
    public CudaBuffer LogitRowsOf(CudaBuffer hidden, TokenBatch batch, int width)
    {
        if (batch.AllLogitRows) return hidden;
        var ids = Ints("logit_rows", batch.LogitRows);
        var rows = Slot("head_rows", (long)batch.LogitRows.Length * width);
        _module.Launch(Function("tessera_gather_rows"), batch.LogitRows.Length, Block, 0, rows, hidden, ids, width);
        return rows;
    }

    /// <summary>
    /// Sends the first <paramref name="count"/> floats of <paramref name="activations"/> to the next stage: as a device
    /// buffer of ours that the receiver copies from and gives back (a device-to-device copy on each side).
    /// </summary>
    public void SendActivations(IStageLink next, CudaBuffer activations, int count)
    {
        long bytes = (long)count * sizeof(float);
        CudaBuffer? message = null;
        while (message is null && _outbox.TryTake(out var spare))
        {
            if (spare.ByteSize >= bytes) message = spare;
            else spare.Dispose();
        }
        message ??= Context.Allocate(Math.Max(4, bytes));
        message.CopyFrom(activations, bytes);
        Context.Synchronize(); // complete before the receiver's stream reads it
        next.SendDevice(new DeviceActivations(message, count, _outbox), bytes);
    }

    /// <summary>The previous stage's activations in this stage's "stage_input" buffer (a float[] message is uploaded).</summary>
    public CudaBuffer ReceiveActivations(IStageLink previous, int count)
    {
        var input = Slot("stage_input", count);
        switch (previous.ReceiveMessage())
        {
            case StageMessage.Host { Data: var host } when host.Length >= count:
                input.Upload<float>(host.AsSpan(0, count));
                return input;
            case StageMessage.Device { Payload: DeviceActivations device } when device.Count >= count:
                input.CopyFrom(device.Buffer, (long)count * sizeof(float));
                Context.Synchronize(); // our copy is done: the sender may reuse its buffer
                device.ReturnTo.Add(device.Buffer);
                return input;
            case var other:
                throw new InvalidOperationException($"Expected {count} floats from the previous stage but got {other.Describe()}; the stages disagree on the activation shape.");
        }
    }

    /// <summary>
    /// The rendezvous of a device collective: waits until <paramref name="mine"/> is complete, meets the group, and
    /// returns every rank's buffer in rank order when all live on this context's GPU (so they can be read in place),
    /// or null when some rank is elsewhere (every rank sees the same parts, so all take the same path).
    /// </summary>
    private CudaBuffer[]? PeersOnThisGpu(CudaBuffer mine, ICollectiveGroup group, long bytes)
    {
        Context.Synchronize();
        var parts = group.ExchangeDevice(new DevicePart(mine, Context), bytes);
        bool onThisGpu = parts.All(p => p is DevicePart part && part.Context.IsEmulated == Context.IsEmulated && part.Context.Device.Ordinal == Context.Device.Ordinal);
        return onThisGpu ? parts.Select(p => ((DevicePart)p!).Buffer).ToArray() : null;
    }

    /// <summary>A rank's buffer in a device collective.</summary>
    private sealed record DevicePart(CudaBuffer Buffer, CudaContext Context) : IDevicePayload
    {
        public string Describe() => $"a {Buffer.ByteSize}-byte buffer on {(Context.IsEmulated ? "the emulator" : $"cuda:{Context.Device.Ordinal}")}";
    }

    /// <summary>Activations in flight between stages: the sender's buffer, given back to its outbox once copied.</summary>
    private sealed record DeviceActivations(CudaBuffer Buffer, int Count, ConcurrentBag<CudaBuffer> ReturnTo) : IDevicePayload
    {
        public string Describe() => $"{Count} floats on the device";
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
        while (_outbox.TryTake(out var b)) b.Dispose();
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
