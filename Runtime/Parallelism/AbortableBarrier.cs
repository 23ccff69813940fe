namespace Tessera.Parallelism;

/// <summary>
/// A barrier that can be aborted: every waiter (now or later) gets a <see cref="ParallelAbortedException"/>, so one
/// failing rank cannot leave the others blocked forever. <see cref="Reset"/> makes it usable again once every
/// participant has stopped. (System.Threading.Barrier cannot be reset after a cancelled wait.)
/// </summary>
internal sealed class AbortableBarrier(int participants)
{
    private readonly object _gate = new();
    private int _arrived;
    private long _generation;
    private Exception? _abort;

    public int Participants { get; } = participants;

    public void SignalAndWait()
    {
        if (Participants == 1)
        {
            ThrowIfAborted();
            return;
        }
        lock (_gate)
        {
            ThrowIfAborted();
            long generation = _generation;
            if (++_arrived == Participants)
            {
                _arrived = 0;
                _generation++;
                Monitor.PulseAll(_gate);
                return;
            }
            while (generation == _generation)
            {
                ThrowIfAborted();
                Monitor.Wait(_gate);
            }
        }
    }

    public void Abort(Exception reason)
    {
        lock (_gate)
        {
            _abort ??= reason;
            Monitor.PulseAll(_gate);
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _abort = null;
            _arrived = 0;
            _generation++;
        }
    }

    private void ThrowIfAborted()
    {
        if (_abort is { } reason) throw Aborted(reason);
    }

    internal static ParallelAbortedException Aborted(Exception reason) =>
        // A fresh exception per waiter: one exception object thrown on several threads would mix their stack traces.
        reason is ParallelAbortedException aborted ? new ParallelAbortedException(aborted.Message, aborted.InnerException)
        : new ParallelAbortedException($"Stopped because another rank failed: {reason.Message}", reason);
}
