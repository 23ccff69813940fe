using System.Numerics.Tensors;

namespace Tessera.Parallelism;

/// <summary>
/// The collectives of one group (tensor or expert) whose ranks live in this process: each rank copies its contribution into a
/// shared staging area, waits at a barrier, then reads everyone's. <see cref="this[int]"/> is the
/// <see cref="ICollectiveGroup"/> a rank uses.
/// </summary>
/// <remarks>
/// The sum is taken in rank order (rank 0 + rank 1 + ...) on every rank, so all ranks get bit-identical results; a
/// ring all-reduce would give each rank a differently-rounded sum and the replicas of the activations would drift.
/// Staging is double-buffered by call parity, so one barrier per collective suffices: a rank can only reuse a buffer
/// two calls later, after every other rank has passed the barrier of the call in between and so finished reading it.
/// </remarks>
public sealed class InProcessGroup : IDisposable
{
    private readonly Member[] _members;
    private readonly AbortableBarrier _barrier;
    private readonly float[]?[][] _staging; // [parity][rank]
    private readonly int[][] _counts;       // [parity][rank]: what each rank passed, to catch ranks that disagree
    private readonly IDevicePayload?[][] _parts;    // [parity][rank]: what each rank passed to ExchangeDevice
    private readonly float[]?[][][] _blocks;        // [parity][rank]: the blocks each rank passed to AllToAll

    public InProcessGroup(int size)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), $"A group needs at least one rank (got {size}).");
        Size = size;
        _barrier = new AbortableBarrier(size);
        _staging = [new float[size][], new float[size][]];
        _counts = [new int[size], new int[size]];
        _parts = [new IDevicePayload?[size], new IDevicePayload?[size]];
        _blocks = [new float[]?[size][], new float[]?[size][]];
        _members = Enumerable.Range(0, size).Select(r => new Member(this, r)).ToArray();
    }

    public int Size { get; }

    /// <summary>The view of rank <paramref name="rank"/>, which it passes in its <see cref="RankContext"/>.</summary>
    public ICollectiveGroup this[int rank] => _members[rank];

    /// <summary>Bytes sent by all ranks together.</summary>
    public long BytesSent => _members.Sum(m => m.BytesSent);

    /// <summary>Wakes every rank waiting in a collective (and fails later calls) with a <see cref="ParallelAbortedException"/>.</summary>
    public void Abort(Exception reason) => _barrier.Abort(reason);

    /// <summary>Makes the group usable again after an abort; call only when no rank is inside a collective.</summary>
    public void Reset()
    {
        _barrier.Reset();
        foreach (var m in _members) m.Calls = 0;
    }

    public void Dispose() => Abort(new ObjectDisposedException(nameof(InProcessGroup), "The group was disposed."));

    private sealed class Member(InProcessGroup group, int rank) : ICollectiveGroup
    {
        private long _bytesSent;

        public int Calls;

        public int Rank => rank;

        public int Size => group.Size;

        public long BytesSent => Interlocked.Read(ref _bytesSent);

        public void AllReduceSum(float[] data, int count)
        {
            if (count < 0 || count > data.Length) throw new ArgumentOutOfRangeException(nameof(count), $"count {count} is outside the buffer of {data.Length}.");
            if (group.Size == 1) return;
            int parity = Stage(data.AsSpan(0, count));
            var slots = group._staging[parity];
            CheckCounts(parity, count, "AllReduceSum");
            var sum = data.AsSpan(0, count);
            slots[0]!.AsSpan(0, count).CopyTo(sum);
            for (int r = 1; r < group.Size; r++) TensorPrimitives.Add(sum, slots[r]!.AsSpan(0, count), sum);
            Interlocked.Add(ref _bytesSent, (long)count * sizeof(float) * (group.Size - 1));
        }

        public void AllGatherColumns(float[] local, int rows, int localWidth, float[] full)
        {
            long n = (long)rows * localWidth;
            if (rows < 0 || localWidth < 0 || n > local.Length) throw new ArgumentOutOfRangeException(nameof(rows), $"({rows}, {localWidth}) does not fit the local buffer of {local.Length}.");
            if (n * group.Size > full.Length) throw new ArgumentException($"The gathered ({rows}, {localWidth * group.Size}) does not fit the output of {full.Length}.", nameof(full));
            if (group.Size == 1)
            {
                Array.Copy(local, full, n);
                return;
            }
            int parity = Stage(local.AsSpan(0, (int)n));
            var slots = group._staging[parity];
            CheckCounts(parity, (int)n, "AllGatherColumns");
            int fullWidth = localWidth * group.Size;
            for (int r = 0; r < group.Size; r++)
                for (int row = 0; row < rows; row++)
                    Array.Copy(slots[r]!, (long)row * localWidth, full, (long)row * fullWidth + r * localWidth, localWidth);
            Interlocked.Add(ref _bytesSent, n * sizeof(float) * (group.Size - 1));
        }

        public void Barrier()
        {
            if (group.Size > 1) group._barrier.SignalAndWait();
        }

        public IReadOnlyList<IDevicePayload> ExchangeDevice(IDevicePayload mine, long bytes)
        {
            ArgumentNullException.ThrowIfNull(mine);
            Interlocked.Add(ref _bytesSent, bytes);
            if (group.Size == 1) return [mine];
            // Same parity scheme as the staging buffers: a slot is rewritten two calls later, when every rank has read it.
            int parity = Calls++ & 1;
            group._parts[parity][rank] = mine;
            group._barrier.SignalAndWait();
            return group._parts[parity].Select(p => p!).ToArray();
        }

        public float[][] AllToAll(float[][] send)
        {
            ArgumentNullException.ThrowIfNull(send);
            if (send.Length != group.Size)
                throw new ArgumentException($"An all-to-all passes one block per rank of the group: {group.Size}, not {send.Length}.", nameof(send));
            // Each block is copied once, by its sender, into an array nobody else writes: receivers keep it as it is.
            var staged = new float[group.Size][];
            long bytes = 0;
            for (int r = 0; r < group.Size; r++)
            {
                staged[r] = (float[])send[r].Clone();
                if (r != rank) bytes += (long)staged[r].Length * sizeof(float);
            }
            Interlocked.Add(ref _bytesSent, bytes);
            if (group.Size == 1) return staged;
            int parity = Calls++ & 1;
            group._blocks[parity][rank] = staged;
            group._barrier.SignalAndWait();
            var received = new float[group.Size][];
            for (int source = 0; source < group.Size; source++)
                received[source] = group._blocks[parity][source]![rank]!;
            return received;
        }

        /// <summary>Copies this rank's contribution into its staging slot and waits for every rank's.</summary>
        private int Stage(ReadOnlySpan<float> contribution)
        {
            int parity = Calls++ & 1;
            ref var slot = ref group._staging[parity][rank];
            if (slot is null || slot.Length < contribution.Length) slot = new float[Math.Max(contribution.Length, 16)];
            contribution.CopyTo(slot);
            group._counts[parity][rank] = contribution.Length;
            group._barrier.SignalAndWait();
            return parity;
        }

        /// <summary>Every rank sees the same counts, so every rank throws (or none does): no rank is left waiting.</summary>
        private void CheckCounts(int parity, int count, string what)
        {
            var counts = group._counts[parity];
            if (counts.Any(c => c != counts[0]))
                throw new InvalidOperationException($"{what}: the ranks of a group passed different sizes ({string.Join(", ", counts)}); every rank must call each collective with the same shape.");
        }
    }
}
