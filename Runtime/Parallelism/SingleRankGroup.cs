namespace Tessera.Parallelism;

/// <summary>The group of one rank: a single rank, collectives are no-ops.</summary>
public sealed class SingleRankGroup : ICollectiveGroup
{
    public static SingleRankGroup Instance { get; } = new();

    public int Rank => 0;

    public int Size => 1;

    public long BytesSent => 0;

    public void AllReduceSum(float[] data, int count) { }

    public void Barrier() { }

    public IReadOnlyList<IDevicePayload> ExchangeDevice(IDevicePayload mine, long bytes) => [mine];

    public float[][] AllToAll(float[][] send)
    {
        ArgumentNullException.ThrowIfNull(send);
        if (send.Length != 1) throw new ArgumentException($"An all-to-all passes one block per rank: 1, not {send.Length}.", nameof(send));
        return [(float[])send[0].Clone()];
    }

    public void AllGatherColumns(float[] local, int rows, int localWidth, float[] full) =>
        Array.Copy(local, full, (long)rows * localWidth);
}
