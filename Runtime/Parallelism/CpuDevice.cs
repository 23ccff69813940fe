using System.Collections.Concurrent;

namespace Tessera.Parallelism;

/// <summary>
/// A virtual device on the CPU: one dedicated worker thread ("cpu:N") that runs the work queued to it, in order, plus
/// its own <see cref="DeviceMemory"/>. A rank's weights are loaded and all its steps run on its device's thread, as
/// they would on a GPU's stream; data leaves a device only through a transport. A GPU rank is driven from such a
/// worker too (its launches are issued there): the worker then carries the GPU device's name.
/// </summary>
public sealed class CpuDevice : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private int _disposed;

    /// <param name="name">what the rank runs on, for messages and reports: "cpu:N" unless the rank drives another device</param>
    public CpuDevice(int index, string? name = null)
    {
        Index = index;
        Name = name ?? $"cpu:{index}";
        // A dedicated thread, not the thread pool: ranks block in receives and collectives, and pool threads blocked
        // that way would starve each other (the pool grows slowly on a 2-core machine).
        _thread = new Thread(Loop) { Name = Name, IsBackground = true };
        _thread.Start();
    }

    public int Index { get; }

    /// <summary>"cpu:N", or the device a GPU rank runs on ("ilgpu-cpu:N", "cuda:0 (virtual device N)").</summary>
    public string Name { get; }

    public DeviceMemory Memory { get; } = new();

    /// <summary>True when called from this device's worker.</summary>
    public bool IsCurrentThread => Thread.CurrentThread == _thread;

    /// <summary>Queues <paramref name="work"/> on the device; the task completes with its result or its exception.</summary>
    public Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    /// <summary>Queues <paramref name="work"/> on the device.</summary>
    public Task Run(Action work) => Run(() =>
    {
        work();
        return true;
    });

    private void Enqueue(Action item)
    {
        try
        {
            _queue.Add(item);
        }
        catch (InvalidOperationException)
        {
            throw new ObjectDisposedException(Name, $"{Name} has been stopped.");
        }
    }

    private void Loop()
    {
        foreach (var item in _queue.GetConsumingEnumerable()) item();
    }

    public override string ToString() => $"{Name}: {Memory}";

    /// <summary>Stops the worker once the queued work is done.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.CompleteAdding();
        if (!IsCurrentThread) _thread.Join();
        _queue.Dispose();
    }
}
