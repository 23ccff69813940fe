namespace Tessera.Parallelism;

/// <summary>
/// The collectives among the ranks of one group: a tensor group (same data replica, pipeline stage and expert rank:
/// all-reduce after row-parallel products, all-gather of a vocab-sharded head) or an expert group (same replica, stage
/// and tensor rank: the all-to-all that sends tokens to their experts and back). Every rank of the group calls each
/// collective in the same order, from its own device's worker.
/// </summary>
public interface ICollectiveGroup
{
    /// <summary>This rank's index in the group, 0 .. Size-1.</summary>
    int Rank { get; }

    int Size { get; }

    /// <summary>data[0..count) = the element-wise sum of every rank's data[0..count) (after a row-parallel matmul).</summary>
    void AllReduceSum(float[] data, int count);

    /// <summary>
    /// Each rank holds local (rows, localWidth); afterwards full (rows, localWidth * Size) holds rank r's columns at
    /// [r * localWidth, (r + 1) * localWidth) of every row (a vocab-sharded head's logits).
    /// </summary>
    void AllGatherColumns(float[] local, int rows, int localWidth, float[] full);

    /// <summary>Waits until every rank of the group has called it (a device collective's "all have read" point).</summary>
    void Barrier();

    /// <summary>
    /// A rendezvous of device buffers: waits for every rank of the group and returns what each passed, in rank order.
    /// Device collectives are built on it: ranks exchange handles to device buffers, then read their peers' memory
    /// directly. Only ranks of one process can do this; a group across processes throws <see cref="NotSupportedException"/>.
    /// </summary>
    /// <param name="mine">this rank's buffer</param>
    /// <param name="bytes">bytes this rank moves in the collective the rendezvous serves, for the communication report</param>
    IReadOnlyList<IDevicePayload> ExchangeDevice(IDevicePayload mine, long bytes);

    /// <summary>
    /// All-to-all with a block per pair of ranks (MPI's alltoallv): this rank passes <paramref name="send"/>[r], the
    /// floats for rank r (any length, possibly empty, its own block included), and gets back the blocks every rank
    /// passed for it, in source rank order. How expert parallelism dispatches tokens to their experts' owners and
    /// returns the results.
    /// </summary>
    float[][] AllToAll(float[][] send);

    /// <summary>Bytes this rank has sent through the group (for the communication report).</summary>
    long BytesSent { get; }
}
