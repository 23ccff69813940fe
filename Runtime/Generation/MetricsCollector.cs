namespace Tessera.Generation;

/// <summary>
/// The running totals behind <see cref="BatcherMetrics"/>: written by the batcher's loop, read by anyone. The loop
/// writes once per step and once per request that ends (a few bucket increments under an uncontended lock); the
/// percentiles, histograms' cumulative counts and rates are computed by the reader.
/// </summary>
internal sealed class MetricsCollector
{
    /// <summary>Latency samples kept for the percentiles (the most recent ones): bounded memory for a long-running server.</summary>
    private const int Window = 4096;

    private readonly object _gate = new();
    private readonly Queue<TimeSpan> _firstTokens = new();
    private readonly Queue<TimeSpan> _gaps = new();
    private readonly HistogramCounter _firstTokenHistogram = new(LatencyHistogram.TimeToFirstTokenBounds);
    private readonly HistogramCounter _gapHistogram = new(LatencyHistogram.InterTokenBounds);
    private readonly HistogramCounter _totalHistogram = new(LatencyHistogram.RequestBounds);
    private readonly HistogramCounter _queueHistogram = new(LatencyHistogram.RequestBounds);
    private long _requests, _promptTokens, _completionTokens, _steps, _prefillTokens, _decodeTokens;
    private long _stopped, _length, _aborted, _errored;
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

    public void RecordFinished(GenerationMetrics metrics, FinishReason reason, IReadOnlyList<TimeSpan> gaps)
    {
        lock (_gate)
        {
            _requests++;
            if (reason == FinishReason.Stop) _stopped++;
            else _length++;
            _promptTokens += metrics.PromptTokens;
            _completionTokens += metrics.CompletionTokens;
            Add(_firstTokens, metrics.TimeToFirstToken);
            _firstTokenHistogram.Observe(metrics.TimeToFirstToken);
            _totalHistogram.Observe(metrics.Total);
            _queueHistogram.Observe(metrics.QueueTime);
            for (int i = 0; i < gaps.Count; i++)
            {
                Add(_gaps, gaps[i]);
                _gapHistogram.Observe(gaps[i]);
            }
        }
    }

    /// <summary>A request that ended without finishing: cancelled (the client left, its time was up, the batcher stopped) or failed.</summary>
    public void RecordFailed(Exception error)
    {
        lock (_gate)
            if (error is OperationCanceledException) _aborted++;
            else _errored++;
    }

    public BatcherMetrics Snapshot(IReadOnlyList<DeviceMemoryUsage> memory, int running, int waiting, double kvCacheUsage)
    {
        lock (_gate)
            return new BatcherMetrics(_requests, _aborted + _errored, _promptTokens, _completionTokens, _steps, LatencySummary.Of(_firstTokens), LatencySummary.Of(_gaps),
                _prefillTokens / Math.Max(_prefillTime.TotalSeconds, 1e-9), _decodeTokens / Math.Max(_decodeTime.TotalSeconds, 1e-9), memory)
            {
                Running = running,
                Waiting = waiting,
                KvCacheUsage = kvCacheUsage,
                Outcomes = new RequestOutcomes(_stopped, _length, _aborted, _errored),
                Histograms = new RequestHistograms(_firstTokenHistogram.Snapshot(), _gapHistogram.Snapshot(), _totalHistogram.Snapshot(), _queueHistogram.Snapshot()),
            };
    }

    private static void Add(Queue<TimeSpan> window, TimeSpan sample)
    {
        if (window.Count == Window) window.Dequeue();
        window.Enqueue(sample);
    }
}
