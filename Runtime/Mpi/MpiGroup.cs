using Tessera.Parallelism;

namespace Tessera.Mpi;

/// <summary>
/// A tensor, expert or sequence group whose ranks are processes: the same collectives as the in-process group, over an
/// MPI communicator. The all-reduce gathers every rank's partial and sums them in rank order on every rank, as the
/// in-process group does, so all ranks hold bit-identical results (MPI_Allreduce does not promise that, and replicas of
/// the activations that drift apart could route a token to different experts on different ranks).
/// </summary>
public sealed class MpiGroup(MpiCommunicator communicator) : ICollectiveGroup
{
    private long _bytesSent;
    private float[] _gathered = [];

    public int Rank => communicator.Rank;

    public int Size => communicator.Size;

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public void AllReduceSum(float[] data, int count)
    {
        if (count < 0 || count > data.Length) throw new ArgumentOutOfRangeException(nameof(count), $"count {count} is outside the buffer of {data.Length}.");
        if (Size == 1) return;
        var gathered = Gather(data.AsSpan(0, count));
        var sum = data.AsSpan(0, count);
        gathered.AsSpan(0, count).CopyTo(sum);
        for (int r = 1; r < Size; r++) System.Numerics.Tensors.TensorPrimitives.Add(sum, gathered.AsSpan(r * count, count), sum);
        Interlocked.Add(ref _bytesSent, (long)count * sizeof(float) * (Size - 1));
    }

    public void AllGatherColumns(float[] local, int rows, int localWidth, float[] full)
    {
        int n = rows * localWidth;
        if (Size == 1)
        {
            Array.Copy(local, full, n);
            return;
        }
        var gathered = Gather(local.AsSpan(0, n));
        int fullWidth = localWidth * Size;
        for (int r = 0; r < Size; r++)
            for (int row = 0; row < rows; row++)
                Array.Copy(gathered, (long)r * n + (long)row * localWidth, full, (long)row * fullWidth + r * localWidth, localWidth);
        Interlocked.Add(ref _bytesSent, (long)n * sizeof(float) * (Size - 1));
    }

    public void Barrier() => communicator.Barrier();

    /// <summary>Device buffers cannot cross processes: device collectives between processes go through MPI (NCCL on GPUs).</summary>
    public IReadOnlyList<IDevicePayload> ExchangeDevice(IDevicePayload mine, long bytes) =>
        throw new NotSupportedException("Ranks in different processes cannot exchange device buffers; their collectives go through MPI (and NCCL on GPUs).");

    public float[][] AllToAll(float[][] send)
    {
        ArgumentNullException.ThrowIfNull(send);
        if (send.Length != Size) throw new ArgumentException($"An all-to-all passes one block per rank of the group: {Size}, not {send.Length}.", nameof(send));
        Interlocked.Add(ref _bytesSent, send.Where((_, r) => r != Rank).Sum(b => (long)b.Length * sizeof(float)));
        return communicator.AllToAll(send);
    }

    private float[] Gather(ReadOnlySpan<float> mine)
    {
        if (_gathered.Length < mine.Length * Size) _gathered = new float[mine.Length * Size];
        communicator.AllGather(mine, _gathered.AsSpan(0, mine.Length * Size));
        return _gathered;
    }
}
