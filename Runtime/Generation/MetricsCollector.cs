namespace Tessera.Generation;

/// <summary>The running totals behind <see cref="BatcherMetrics"/>: written by the batcher's loop, read by anyone.</summary>
internal sealed class MetricsCollector
{
    /// <summary>Latency samples kept for the percentiles (the most recent ones): bounded memory for a long-running server.</summary>
    private const int Window = 4096;

    private readonly object _gate = new();
    private readonly Queue<TimeSpan> _firstTokens = new();
    private readonly Queue<TimeSpan> _gaps = new();
    private long _requests, _failed, _promptTokens, _completionTokens, _steps, _prefillTokens, _decodeTokens;
    private TimeSpan _prefillTime, _decodeTime;

    public void RecordStep(TimeSpan elapsed, int prefillTokens, int decodeTokens)
    {
        lock (_gate)
        {
            _steps++;
            if (prefillTokens > 0)
            {
                _prefillTime += elapsed;
                _prefillTokens += prefillTokens;
            }
            else
            {
                _decodeTime += elapsed;
                _decodeTokens += decodeTokens;
            }
        }
    }

    public void RecordFinished(GenerationMetrics metrics, IEnumerable<TimeSpan> gaps)
    {
        lock (_gate)
        {
            _requests++;
            _promptTokens += metrics.PromptTokens;
            _completionTokens += metrics.CompletionTokens;
            Add(_firstTokens, metrics.TimeToFirstToken);
            foreach (var gap in gaps) Add(_gaps, gap);
        }
    }

    public void RecordFailed()
    {
        lock (_gate) _failed++;
    }

    public BatcherMetrics Snapshot(IReadOnlyList<DeviceMemoryUsage> memory)
    {
        lock (_gate)
            return new BatcherMetrics(_requests, _failed, _promptTokens, _completionTokens, _steps, LatencySummary.Of(_firstTokens), LatencySummary.Of(_gaps),
                _prefillTokens / Math.Max(_prefillTime.TotalSeconds, 1e-9), _decodeTokens / Math.Max(_decodeTime.TotalSeconds, 1e-9), memory);
    }

    private static void Add(Queue<TimeSpan> window, TimeSpan sample)
    {
        if (window.Count == Window) window.Dequeue();
        window.Enqueue(sample);
    }
}
