namespace Tessera.Parallelism;

/// <summary>A point-to-point link between neighbouring pipeline stages (same data replica, same tensor rank).</summary>
public interface IStageLink
{
    /// <summary>Sends data[0..count) to the other end. Returns when the data has been handed over (the caller may reuse the buffer).</summary>
    void Send(float[] data, int count);

    /// <summary>Receives the next message; the result holds at least <paramref name="count"/> floats.</summary>
    float[] Receive(int count);

    /// <summary>
    /// Hands <paramref name="payload"/> itself (not a copy) to the other end: how device stages pass a device buffer
    /// they will not touch again until the receiver gives it back. Only within one process.
    /// </summary>
    /// <param name="bytes">the bytes the payload stands for, for the communication report</param>
    void SendDevice(IDevicePayload payload, long bytes);

    /// <summary>The next message, whichever way it was sent: host floats (<see cref="Send"/>) or a device payload.</summary>
    StageMessage ReceiveMessage();

    long BytesSent { get; }
}
