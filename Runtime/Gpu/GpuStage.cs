using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Tessera.Parallelism;

namespace Tessera.Gpu;

/// <summary>
/// What a generated GPU rank program runs on: its virtual device (an ILGPU accelerator and a stream), the runtime's
/// library kernels, cuBLAS on a CUDA GPU, its weights in device memory, activation buffers that grow with the batch,
/// and its sequences' KV cache (<see cref="KvPool"/>). Generated code launches its own kernels on <see cref="Stream"/>
/// with the launch shapes given here, in the same order as the CPU kernels.
/// Between virtual devices on one accelerator, collectives read the peers' buffers in place (the ranks meet through
/// <see cref="ICollectiveGroup.ExchangeDevice"/>) and stage boundaries pass device buffers: no host round trip.
/// Between accelerators they go through host memory.
/// </summary>
public sealed partial class GpuStage : IDisposable
{
    /// <summary>Up to this many rows, a product with bf16 weights runs the GEMV kernel (weights read once); above, a bf16 x bf16 product.</summary>
    public const int GemvMaxRows = 8;

    private readonly LibraryKernels _library;
    private readonly GpuBlas? _blas;
    private readonly KvPool _cache;
    private readonly Dictionary<string, MemoryBuffer1D<float, Stride1D.Dense>> _slots = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MemoryBuffer1D<int, Stride1D.Dense>> _ints = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MemoryBuffer1D<ushort, Stride1D.Dense>> _halves = new(StringComparer.Ordinal); // bf16 activations
    private readonly ConditionalWeakTable<float[], MemoryBuffer1D<float, Stride1D.Dense>> _vectors = new();
    private readonly ConditionalWeakTable<Cpu.WeightMatrix, object> _matrices = new();
    private readonly List<MemoryBuffer> _weightBuffers = new();
    private readonly ConcurrentBag<MemoryBuffer1D<float, Stride1D.Dense>> _outbox = new(); // buffers for outgoing activations, given back by the receiver
    private readonly Dictionary<(int RotaryDim, float Theta, RopeScaling Scaling), (int Positions, MemoryBuffer1D<float, Stride1D.Dense>? Cos, MemoryBuffer1D<float, Stride1D.Dense>? Sin)> _ropeTables = new();
    private float[] _staging = [];

    /// <param name="device">the virtual device (several may share one accelerator)</param>
    /// <param name="layers">layers of this stage</param>
    /// <param name="kvWidth">this rank's kv heads x head dim</param>
    public GpuStage(GpuDevice device, int layers, int kvWidth)
    {
        Device = device;
        _library = LibraryKernels.For(device.Accelerator);
        if (device.Accelerator is CudaAccelerator cuda) _blas = new GpuBlas(cuda, device.Stream);
        _cache = new KvPool(device.Accelerator, device.Stream, layers, kvWidth);
    }

    public GpuDevice Device { get; }

    public Accelerator Accelerator => Device.Accelerator;

    /// <summary>The stream every launch of this stage goes on.</summary>
    public AcceleratorStream Stream => Device.Stream;

    /// <summary>Device bytes of weights uploaded.</summary>
    public long WeightBytes => _weightBuffers.Sum(b => b.LengthInBytes);

    /// <summary>Device bytes of activation buffers and the KV cache.</summary>
    public long WorkspaceBytes => _slots.Values.Sum(b => b.LengthInBytes) + _ints.Values.Sum(b => b.LengthInBytes) + _halves.Values.Sum(b => b.LengthInBytes) + _cache.Bytes;

    /// <summary>A launch of one group per row.</summary>
    public KernelConfig Rows(int rows) => new(Math.Max(1, rows), Device.Block);

    /// <summary>
    /// The attention launch of a batch: a group per (row, kv head, split), with dynamic shared memory for the
    /// <paramref name="group"/> queries sharing the kv head, one tile of weights per query head, and three statistics
    /// per query head. Contexts split when the (row, kv head) groups alone would leave the device idle: enough splits
    /// for about <see cref="GpuDevice.BusyGroups"/> groups, each at least one tile of the group's size.
    /// </summary>
    public AttentionLaunch Attention(TokenBatch batch, int kvHeads, int group, int headDim)
    {
        int rows = Math.Max(1, batch.Rows), context = LongestContext(batch), block = Device.Block;
        int tiles = (context + block - 1) / block;
        int splits = Math.Clamp(Device.BusyGroups / Math.Max(1, rows * kvHeads), 1, tiles);
        int chunk = (tiles + splits - 1) / splits * block;
        splits = (context + chunk - 1) / chunk;
        var partials = splits == 1 ? default : Slot("attention_partials", (long)rows * kvHeads * splits * group * (headDim + 2));
        var config = new KernelConfig(new Index3D(rows, Math.Max(1, kvHeads), splits), new Index3D(block, 1, 1),
            SharedMemoryConfig.RequestDynamic<float>(group * (headDim + block + 3)));
        return new AttentionLaunch(config, splits, chunk, partials, rows, kvHeads, group, headDim);
    }

    /// <summary>The attention output of a split launch: every split's partial sums merged (nothing to do with one split).</summary>
    public void CombineAttention(AttentionLaunch launch, ArrayView<float> output, int width)
    {
        if (launch.Splits == 1) return;
        long count = (long)launch.Rows * launch.KvHeads * launch.Group * launch.HeadDim;
        _library.CombineAttention(Stream, Elements(count), output, launch.Partials, launch.KvHeads, launch.Splits, launch.Group, launch.HeadDim, width, count);
    }

    /// <summary>A grid-stride launch over <paramref name="count"/> elements.</summary>
    public KernelConfig Elements(long count) => new((int)Math.Clamp((count + Device.Block - 1) / Device.Block, 1, 65535), Device.Block);

    /// <summary>The device copy of a host vector; an empty view for a weight this rank does not hold (another stage's).</summary>
    public ArrayView<float> Weight(float[]? host)
    {
        if (host is null) return default;
        if (_vectors.TryGetValue(host, out var buffer)) return buffer.View;
        buffer = Accelerator.Allocate1D(host);
        _vectors.Add(host, buffer);
        _weightBuffers.Add(buffer);
        return buffer.View;
    }

    /// <summary>The device copy of an embedding table as F32 (quantized tables dequantized); empty for one this rank does not hold.</summary>
    public ArrayView<float> Table(Cpu.WeightMatrix? host) => host is null ? default : Weight(host.F32 ?? host.ToF32());

    /// <summary>
    /// The device copy of a host weight matrix, in its precision (bf16 matrices stay bf16 on the device); an empty one
    /// for a weight this rank does not hold.
    /// </summary>
    public DeviceMatrix Weight(Cpu.WeightMatrix? host)
    {
        if (host is null) return default;
        if (_matrices.TryGetValue(host, out var known)) return (DeviceMatrix)known;
        var matrix = Upload([host]);
        _matrices.Add(host, matrix);
        return matrix;
    }

    /// <summary>
    /// The row-wise stack of several weight matrices with the same input width, on the device, for one product over
    /// all of them (<see cref="Gemm(ArrayView{float}, DeviceMatrix, int, int, ValueTuple{ArrayView{float}, int}[])"/>):
    /// every part must be held in the same precision. No part is kept on the device on its own.
    /// </summary>
    public DeviceMatrix Stack(params Cpu.WeightMatrix?[] parts)
    {
        if (parts.Any(p => p is null)) return default; // a weight this rank does not hold
        var matrices = parts.Select(p => p!).ToArray();
        if (matrices.Any(m => m.Cols != matrices[0].Cols || (m.BF16 is null) != (matrices[0].BF16 is null)))
            throw new ArgumentException($"Stacked weights must share their input width and precision: {string.Join(", ", matrices.Select(m => $"({m.Rows}, {m.Cols}) {m.Precision}"))}.", nameof(parts));
        return Upload(matrices);
    }

    /// <summary>
    /// Matrices of one precision, one after the other in one device buffer (a weight of this stage). Block-quantized
    /// weights are dequantized to F32 on the way: the GPU kernels do not read ggml blocks yet.
    /// </summary>
    private DeviceMatrix Upload(Cpu.WeightMatrix[] matrices) => matrices[0].BF16 is null
        ? new DeviceMatrix(Upload(matrices.Select(m => m.ToF32())), default)
        : new DeviceMatrix(default, Upload(matrices.Select(m => m.BF16!)));

    private ArrayView<T> Upload<T>(IEnumerable<T[]> parts) where T : unmanaged
    {
        var arrays = parts.ToArray();
        var buffer = Accelerator.Allocate1D<T>(Math.Max(1, arrays.Sum(a => a.LongLength)));
        long offset = 0;
        foreach (var array in arrays.Where(a => a.Length > 0))
        {
            buffer.View.SubView(offset, array.LongLength).CopyFromCPU(Stream, new ReadOnlySpan<T>(array));
            offset += array.LongLength;
        }
        _weightBuffers.Add(buffer);
        return buffer.View;
    }

    /// <summary>
    /// Several products of one input at once, over their weights stacked by <see cref="Stack"/>: one product into a
    /// (rows, Σ widths) scratch buffer, then each output (rows, its width) gets its columns.
    /// </summary>
    public void Gemm(ArrayView<float> x, DeviceMatrix stacked, int rows, int k, params (ArrayView<float> Output, int Width)[] outputs)
    {
        int total = outputs.Sum(o => o.Width), offset = 0;
        var product = Slot("stacked_product", (long)rows * total);
        Gemm(product, x, stacked, rows, total, k);
        foreach (var (output, width) in outputs)
        {
            _library.GatherColumns(Stream, Rows(rows), output, product, width, total, offset);
            offset += width;
        }
    }

    /// <summary>A named activation buffer of <paramref name="floats"/> floats (its storage grown, never shrunk).</summary>
    public ArrayView<float> Slot(string name, long floats) => Grown(_slots, name, floats);

    /// <summary>A named device buffer of <paramref name="count"/> ints, its storage grown, never shrunk.</summary>
    private ArrayView<int> IntSlot(string name, long count) => Grown(_ints, name, count);

    /// <summary>The first <paramref name="count"/> (at least 1) elements of a named buffer of the pool, reallocated when too small.</summary>
    private ArrayView<T> Grown<T>(Dictionary<string, MemoryBuffer1D<T, Stride1D.Dense>> pool, string name, long count) where T : unmanaged
    {
        count = Math.Max(1, count);
        if (!pool.TryGetValue(name, out var buffer) || buffer.Length < count)
        {
            buffer?.Dispose();
            pool[name] = buffer = Accelerator.Allocate1D<T>(count);
        }
        return buffer.View.SubView(0, count);
    }

    /// <summary>Host ints (token ids, positions) in a named device buffer.</summary>
    public ArrayView<int> Ints(string name, int[] values)
    {
        var view = IntSlot(name, values.Length);
        if (values.Length > 0) view.SubView(0, values.Length).CopyFromCPU(Stream, new ReadOnlySpan<int>(values));
        return view;
    }

    /// <summary>Host floats (activations from the previous stage) in a named device buffer.</summary>
    public ArrayView<float> Floats(string name, float[] values, int count)
    {
        var view = Slot(name, count);
        view.SubView(0, count).CopyFromCPU(Stream, new ReadOnlySpan<float>(values, 0, count));
        return view;
    }

    /// <summary>The first <paramref name="count"/> floats of a device buffer, on the host (waits for the stream).</summary>
    public float[] Download(ArrayView<float> view, int count)
    {
        var host = new float[count];
        if (count > 0) view.SubView(0, count).CopyToCPU(Stream, new Span<float>(host));
        Stream.Synchronize();
        return host;
    }

    /// <summary>
    /// y (T, N) = x (T, K) · wᵀ. F32 weights: cuBLAS sgemm on a GPU, the library's product elsewhere. BF16 weights: the
    /// GEMV kernel up to <see cref="GemvMaxRows"/> rows (decode reads each weight once, as bf16, with fp32 activations),
    /// else the activations rounded to bf16 and a bf16 x bf16 product accumulated in fp32 — cublasGemmEx on bf16
    /// tensor cores on a GPU, the library's kernel with the same rounding elsewhere (as vLLM and llama.cpp run bf16).
    /// </summary>
    public void Gemm(ArrayView<float> y, ArrayView<float> x, DeviceMatrix w, int rows, int n, int k)
    {
        if (w.IsBf16)
        {
            if (rows <= GemvMaxRows)
            {
                _library.GemvBf16(Stream, Threads((long)n * Device.Accelerator.WarpSize), y, x, w.BF16, rows, n, k);
                return;
            }
            long count = (long)rows * k;
            var activations = Grown(_halves, "activations_bf16", count);
            _library.RoundToBf16(Stream, Elements(count), activations, x, count);
            if (_blas is not null) _blas.GemmBf16(y, activations, w.BF16, rows, n, k);
            else _library.GemmBf16(Stream, Threads((long)rows * n), y, activations, w.BF16, rows, n, k);
            return;
        }
        if (_blas is not null)
        {
            _blas.Gemm(y, x, w.F32, rows, n, k);
            return;
        }
        _library.GemmF32(Stream, Threads((long)rows * n), y, x, w.F32, rows, n, k);
    }

    /// <summary>A launch of <paramref name="count"/> threads (or a few more), in groups (one per output, per warp of outputs, per row).</summary>
    private KernelConfig Threads(long count) => new((int)((count + Device.Block - 1) / Device.Block), Device.Block);

    /// <summary>Copies <paramref name="count"/> floats on the device (an op's input kept for a later reader).</summary>
    public void Copy(ArrayView<float> from, ArrayView<float> to, long count) => to.SubView(0, count).CopyFrom(Stream, from.SubView(0, count));

    /// <summary>
    /// RoPE's tables for the positions <paramref name="batch"/> reaches: cos and sin of the rotated pairs, and how many
    /// pairs a head has (half its rotated dimensions, <see cref="Cpu.CpuKernels.RotaryDims"/>).
    /// </summary>
    public (ArrayView<float> Cos, ArrayView<float> Sin, int Pairs) RopeTable(int headDim, float theta, TokenBatch batch, RopeScaling? scaling = null, float rotaryFraction = 1)
    {
        int rotaryDim = Cpu.CpuKernels.RotaryDims(headDim, rotaryFraction);
        var (cos, sin) = RopeTable(rotaryDim, theta, LongestContext(batch), scaling);
        return (cos, sin, rotaryDim / 2);
    }

    /// <summary>
    /// RoPE's cos and sin tables for <paramref name="rotaryDim"/> rotated dimensions, <paramref name="theta"/> and
    /// <paramref name="scaling"/>, covering the positions [0, <paramref name="positions"/>): the CPU kernel's fp32
    /// tables, uploaded once and again only when they grow.
    /// </summary>
    public (ArrayView<float> Cos, ArrayView<float> Sin) RopeTable(int rotaryDim, float theta, int positions, RopeScaling? scaling = null)
    {
        var key = (rotaryDim, theta, scaling ?? RopeScaling.None);
        if (!_ropeTables.TryGetValue(key, out var table) || table.Positions < positions)
        {
            var (cos, sin) = Cpu.CpuKernels.RopeAngles(rotaryDim, theta, positions, scaling);
            table.Cos?.Dispose();
            table.Sin?.Dispose();
            _ropeTables[key] = table = (cos.Length / Math.Max(1, rotaryDim / 2), Accelerator.Allocate1D(cos), Accelerator.Allocate1D(sin));
        }
        return (table.Cos!.View, table.Sin!.View);
    }

    /// <summary>
    /// A router's decision for each row: softmax over <paramref name="experts"/> logits, the top <paramref name="k"/>,
    /// their weights (renormalised over the chosen ones when asked) — decided on the device, as the CPU router decides.
    /// </summary>
    /// <param name="name">the routing's name: its decision lives in buffers of that name, so a block's routers do not share them</param>
    public ExpertRouting Route(ArrayView<float> logits, int rows, int experts, int k, bool renormalize, string name)
    {
        if (k < 1 || k > experts)
            throw new ArgumentOutOfRangeException(nameof(k), $"Top-k routing needs 1 <= k <= {experts} experts (k = {k}).");
        var chosen = IntSlot(name + "_chosen", (long)rows * k);
        var weights = Slot(name + "_weights", (long)rows * k);
        _library.Route(Stream, Threads(rows), logits, rows, experts, k, renormalize ? 1 : 0, chosen, weights);
        return new ExpertRouting(chosen, weights, rows, k);
    }

    /// <summary>y (rows, width) += the routing's weight x <paramref name="output"/> for the rows that chose <paramref name="expert"/>.</summary>
    public void AddExpert(ArrayView<float> y, ArrayView<float> output, ExpertRouting routing, int expert, int width) =>
        _library.AddExpert(Stream, Elements((long)routing.Rows * width), y, output, routing.Chosen, routing.Weights, routing.Rows, routing.K, width, expert);

    /// <summary>Zeroes the first <paramref name="count"/> floats of <paramref name="y"/>.</summary>
    public void Clear(ArrayView<float> y, long count) => y.SubView(0, count).MemSetToZero(Stream);

    /// <summary>Each row's cache slot for this batch (one upload per forward; the layers index the pool with it).</summary>
    public ArrayView<int> CacheSlots(TokenBatch batch)
    {
        var slots = new int[batch.Rows];
        for (int r = 0; r < batch.Rows; r++) slots[r] = _cache.SlotOf(batch.Caches[batch.SequenceOfRow[r]]);
        return Ints("cache_slots", slots);
    }

    /// <summary>The cache of layer <paramref name="layerIndex"/> of this stage for the batch's rows.</summary>
    public KvCacheView Cache(ArrayView<int> cacheSlots, int layerIndex) => _cache.View(cacheSlots, layerIndex);

    /// <summary>The longest context any row of the batch attends to.</summary>
    public static int LongestContext(TokenBatch batch) => batch.Positions.Max() + 1;

    /// <summary>
    /// Sums a row-parallel product's partial results over the tensor group. On one accelerator: every rank adds its
    /// peers' buffers, read in place, in rank order (so all ranks get bit-identical sums, as on the CPU), into a
    /// scratch buffer, and copies it back once all have read. Across accelerators: through host memory.
    /// </summary>
    public void AllReduce(ArrayView<float> y, int count, ICollectiveGroup group)
    {
        if (group.Size == 1) return;
        var mine = y.SubView(0, count);
        if (PeersOnThisAccelerator(mine, group, (long)count * sizeof(float) * (group.Size - 1)) is not { } partials)
        {
            if (_staging.Length < count) _staging = new float[count];
            mine.CopyToCPU(Stream, new Span<float>(_staging, 0, count));
            Stream.Synchronize();
            group.AllReduceSum(_staging, count);
            mine.CopyFromCPU(Stream, new ReadOnlySpan<float>(_staging, 0, count));
            return;
        }
        var sum = Slot("all_reduce_sum", count);
        sum.CopyFrom(Stream, partials[0]);
        for (int r = 1; r < partials.Length; r++) _library.AddInPlace(Stream, Elements(count), sum, partials[r], count);
        Stream.Synchronize();
        group.Barrier(); // every rank has read every partial: each may now overwrite its own
        mine.CopyFrom(Stream, sum);
    }

    /// <summary>
    /// The logits of the head's output on the host: this rank's (rows, localWidth), or with a vocab-sharded head the
    /// full rows gathered from every tensor rank (on the device when the ranks share an accelerator).
    /// </summary>
    /// <param name="vocab">the vocabulary when the head is padded to the degree (its columns past it are dropped); 0: not padded</param>
    public float[] Logits(ArrayView<float> local, int rows, int localWidth, ICollectiveGroup group, int vocab = 0)
    {
        var logits = GatherLogits(local, rows, localWidth, group);
        int width = localWidth * group.Size;
        if (vocab <= 0 || vocab == width) return logits;
        var trimmed = new float[(long)rows * vocab];
        Cpu.CpuKernels.CopyColumns(logits, rows, width, 0, vocab, trimmed);
        return trimmed;
    }

    private float[] GatherLogits(ArrayView<float> local, int rows, int localWidth, ICollectiveGroup group)
    {
        int count = rows * localWidth;
        if (group.Size == 1) return Download(local, count);
        var mine = local.SubView(0, count);
        if (PeersOnThisAccelerator(mine, group, (long)count * sizeof(float) * (group.Size - 1)) is not { } shards)
        {
            var full = new float[count * group.Size];
            group.AllGatherColumns(Download(local, count), rows, localWidth, full);
            return full;
        }
        int fullWidth = localWidth * group.Size;
        var gathered = Slot("logits_all_ranks", (long)rows * fullWidth);
        for (int r = 0; r < shards.Length; r++)
            _library.ScatterColumns(Stream, Rows(rows), gathered, shards[r], localWidth, fullWidth, r * localWidth);
        var logits = Download(gathered, rows * fullWidth); // waits for the copies, so peers may reuse their buffers after the barrier
        group.Barrier();
        return logits;
    }

    /// <summary>
    /// The rows of <paramref name="hidden"/> (T, width) whose logits the batch wants, so the head multiplies only those:
    /// the buffer itself when every row is wanted, else a gathered copy.
    /// </summary>
    public ArrayView<float> LogitRowsOf(ArrayView<float> hidden, TokenBatch batch, int width)
    {
        if (batch.AllLogitRows) return hidden;
        var ids = Ints("logit_rows", batch.LogitRows);
        var rows = Slot("head_rows", (long)batch.LogitRows.Length * width);
        _library.GatherRows(Stream, Rows(batch.LogitRows.Length), rows, hidden, ids, width);
        return rows;
    }

    /// <summary>
    /// Sends the first <paramref name="count"/> floats of <paramref name="activations"/> to the next stage: as a device
    /// buffer of ours that the receiver copies from and gives back (a device-to-device copy on each side).
    /// </summary>
    public void SendActivations(IStageLink next, ArrayView<float> activations, int count)
    {
        MemoryBuffer1D<float, Stride1D.Dense>? message = null;
        while (message is null && _outbox.TryTake(out var spare))
        {
            if (spare.Length >= count) message = spare;
            else spare.Dispose();
        }
        message ??= Accelerator.Allocate1D<float>(Math.Max(1, count));
        ArrayView<float> outgoing = message.View;
        outgoing.SubView(0, count).CopyFrom(Stream, activations.SubView(0, count));
        Stream.Synchronize(); // complete before the receiver's stream reads it
        next.SendDevice(new DeviceActivations(message, count, _outbox, Device), (long)count * sizeof(float));
    }

    /// <summary>The previous stage's activations in this stage's "stage_input" buffer (host floats are uploaded).</summary>
    public ArrayView<float> ReceiveActivations(IStageLink previous, int count)
    {
        switch (previous.ReceiveMessage())
        {
            case StageMessage.Host { Data: var host } when host.Length >= count:
                return Floats("stage_input", host, count);
            case StageMessage.Device { Payload: DeviceActivations device } when device.Count >= count:
                ArrayView<float> sent = device.Buffer.View;
                ArrayView<float> input;
                if (device.Device.SharesMemoryWith(Device))
                {
                    input = Slot("stage_input", count);
                    input.SubView(0, count).CopyFrom(Stream, sent.SubView(0, count));
                    Stream.Synchronize(); // our copy is done: the sender may reuse its buffer
                }
                else
                {
                    var staged = new float[count];
                    sent.SubView(0, count).CopyToCPU(new Span<float>(staged));
                    input = Floats("stage_input", staged, count);
                }
                device.ReturnTo.Add(device.Buffer);
                return input;
            case var other:
                throw new InvalidOperationException($"Expected {count} floats from the previous stage but got {other.Describe()}; the stages disagree on the activation shape.");
        }
    }

    /// <summary>
    /// The rendezvous of a device collective: waits until <paramref name="mine"/> is complete, meets the group, and
    /// returns every rank's buffer in rank order when all live on this accelerator (so they can be read in place),
    /// or null when some rank is elsewhere (every rank sees the same parts, so all take the same path).
    /// </summary>
    private ArrayView<float>[]? PeersOnThisAccelerator(ArrayView<float> mine, ICollectiveGroup group, long bytes)
    {
        Stream.Synchronize();
        var parts = group.ExchangeDevice(new DevicePart(mine, Device), bytes);
        bool together = parts.All(p => p is DevicePart part && part.Device.SharesMemoryWith(Device));
        return together ? parts.Select(p => ((DevicePart)p).Buffer).ToArray() : null;
    }

    /// <summary>A rank's buffer in a device collective.</summary>
    private sealed record DevicePart(ArrayView<float> Buffer, GpuDevice Device) : IDevicePayload
    {
        public string Describe() => $"{Buffer.Length} floats on {Device.Name}";
    }

    /// <summary>Activations in flight between stages: the sender's buffer, given back to its outbox once copied.</summary>
    private sealed record DeviceActivations(MemoryBuffer1D<float, Stride1D.Dense> Buffer, int Count, ConcurrentBag<MemoryBuffer1D<float, Stride1D.Dense>> ReturnTo, GpuDevice Device) : IDevicePayload
    {
        public string Describe() => $"{Count} floats on {Device.Name}";
    }

    public void Dispose()
    {
        Stream.Synchronize();
        foreach (var b in _slots.Values) b.Dispose();
        foreach (var b in _ints.Values) b.Dispose();
        foreach (var b in _halves.Values) b.Dispose();
        foreach (var (_, cos, sin) in _ropeTables.Values)
        {
            cos?.Dispose();
            sin?.Dispose();
        }
        foreach (var b in _weightBuffers) b.Dispose();
        while (_outbox.TryTake(out var b)) b.Dispose();
        _cache.Dispose();
        _blas?.Dispose();
        Device.Dispose();
    }
}

/// <summary>A weight matrix on the device: fp32, or bf16 bits (ILGPU has no bf16 type; kernels widen them).</summary>
public readonly record struct DeviceMatrix(ArrayView<float> F32, ArrayView<ushort> BF16)
{
    public bool IsBf16 => BF16.IsValid;
}
