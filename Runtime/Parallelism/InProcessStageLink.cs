namespace Tessera.Parallelism;

/// <summary>
/// A one-way link between neighbouring pipeline stages in this process: a bounded blocking queue. Send copies the data
/// (the sender may reuse its buffer at once), SendDevice passes a device payload as is (a device stage's buffer), and both
/// block while the queue is full; Receive blocks until a message arrives.
/// </summary>
public sealed class InProcessStageLink : IStageLink, IDisposable
{
    private readonly Queue<StageMessage> _queue = new();
    private readonly object _gate = new();
    private Exception? _abort;
    private long _bytesSent;

    /// <param name="capacity">messages in flight before Send blocks (back-pressure on a stage that runs ahead)</param>
    /// <param name="name">for messages, e.g. "d0 t1: stage 0 -> 1"</param>
    public InProcessStageLink(int capacity = 2, string name = "stage link")
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity), $"A link needs room for at least one message (got {capacity}).");
        Capacity = capacity;
        Name = name;
    }

    public int Capacity { get; }

    public string Name { get; }

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>Messages sent but not yet received.</summary>
    public int Pending
    {
        get { lock (_gate) return _queue.Count; }
    }

    public void Send(float[] data, int count)
    {
        if (count < 0 || count > data.Length) throw new ArgumentOutOfRangeException(nameof(count), $"{Name}: count {count} is outside the buffer of {data.Length}.");
        Enqueue(new StageMessage.Host(data.AsSpan(0, count).ToArray()), (long)count * sizeof(float));
    }

    public float[] Receive(int count)
    {
        var message = ReceiveMessage();
        if (message is not StageMessage.Host { Data: var floats })
            throw new InvalidOperationException($"{Name}: expected {count} floats but the previous stage sent {message.Describe()}; both ends must use one transport.");
        if (floats.Length < count)
            throw new InvalidOperationException($"{Name}: expected {count} floats but the previous stage sent {floats.Length}; the stages disagree on the activation shape.");
        return floats;
    }

    public void SendDevice(IDevicePayload payload, long bytes)
    {
        ArgumentNullException.ThrowIfNull(payload);
        Enqueue(new StageMessage.Device(payload), bytes);
    }

    private void Enqueue(StageMessage message, long bytes)
    {
        lock (_gate)
        {
            while (_queue.Count >= Capacity && _abort is null) Monitor.Wait(_gate);
            if (_abort is { } reason) throw AbortableBarrier.Aborted(reason);
            _queue.Enqueue(message);
            Monitor.PulseAll(_gate);
        }
        Interlocked.Add(ref _bytesSent, bytes);
    }

    public StageMessage ReceiveMessage()
    {
        lock (_gate)
        {
            while (_queue.Count == 0 && _abort is null) Monitor.Wait(_gate);
            if (_abort is { } reason) throw AbortableBarrier.Aborted(reason);
            var message = _queue.Dequeue();
            Monitor.PulseAll(_gate);
            return message;
        }
    }

    /// <summary>Wakes a blocked sender or receiver (and fails later calls) with a <see cref="ParallelAbortedException"/>.</summary>
    public void Abort(Exception reason)
    {
        lock (_gate)
        {
            _abort ??= reason;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Drops undelivered messages and clears an abort; call only when neither end is inside Send or Receive.</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _queue.Clear();
            _abort = null;
        }
    }

    public void Dispose() => Abort(new ObjectDisposedException(Name, $"{Name} was closed."));
}
