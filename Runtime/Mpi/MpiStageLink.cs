using Tessera.Parallelism;

namespace Tessera.Mpi;

/// <summary>
/// One end of a pipeline stage boundary between processes: this rank sends to (or receives from) its peer rank of the
/// next (previous) stage, with a tag of its own so that several boundaries never mix messages.
/// </summary>
/// <remarks>
/// A send does not wait for the receiver: under the clock schedule the next stage receives at clock c + 1 what was
/// sent at clock c, after a barrier of the replica, and MPI hands a large message over only once its receive is posted
/// (the rendezvous protocol), so a blocking send would wait on a rank that waits at the barrier for it. The link copies
/// the activations into a pinned buffer, starts the send and returns, as the in-process link's queue does;
/// <see cref="Flush"/> waits for the sends still under way (at the end of a forward).
/// </remarks>
public sealed class MpiStageLink(MpiCommunicator world, int peer, int tag) : IStageLink
{
    private readonly List<MpiRequest> _pending = [];
    private long _bytesSent;

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public void Send(float[] data, int count)
    {
        _pending.RemoveAll(r => r.Test());
        var copy = GC.AllocateUninitializedArray<float>(count, pinned: true);
        Array.Copy(data, copy, count);
        _pending.Add(world.StartSend(copy, count, peer, tag));
        Interlocked.Add(ref _bytesSent, (long)count * sizeof(float));
    }

    public float[] Receive(int count)
    {
        var data = new float[count];
        world.Receive(data, peer, tag);
        return data;
    }

    /// <summary>Waits until every message sent so far has been received.</summary>
    public void Flush()
    {
        foreach (var request in _pending) request.Wait();
        _pending.Clear();
    }

    public void SendDevice(IDevicePayload payload, long bytes) =>
        throw new NotSupportedException("Stages in different processes pass activations as floats; device buffers cannot cross processes.");

    /// <summary>Host floats of the length the next message announces: between processes only floats travel.</summary>
    public StageMessage ReceiveMessage() =>
        throw new NotSupportedException("Between processes a stage receives floats of a known count: use Receive(count).");
}
