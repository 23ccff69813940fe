namespace Tessera.Generation;

/// <summary>
/// The running totals behind <see cref="BatcherMetrics"/>: written by the batcher's loop, read by anyone. The loop
/// writes once per step and once per request that ends (a few bucket increments under an uncontended lock); the
/// percentiles, histograms' cumulative counts and rates are computed by the reader.
/// </summary>
/// <param name="contextLength">the model's context: the largest bucket of the token-count histograms (vLLM's 1-2-5 series up to it)</param>
internal sealed class MetricsCollector(int contextLength)
{
    /// <summary>Latency samples kept for the percentiles (the most recent ones): bounded memory for a long-running server.</summary>
    private const int Window = 4096;

    private readonly object _gate = new();
    private readonly Queue<TimeSpan> _firstTokens = new();
    private readonly Queue<TimeSpan> _gaps = new();
    private readonly HistogramCounter _firstTokenHistogram = new(HistogramSnapshot.TimeToFirstTokenBounds);
    private readonly HistogramCounter _gapHistogram = new(HistogramSnapshot.InterTokenBounds);
    private readonly HistogramCounter _totalHistogram = new(HistogramSnapshot.RequestBounds);
    private readonly HistogramCounter _queueHistogram = new(HistogramSnapshot.RequestBounds);
    private readonly HistogramCounter _prefillHistogram = new(HistogramSnapshot.RequestBounds);
    private readonly HistogramCounter _decodeHistogram = new(HistogramSnapshot.RequestBounds);
    private readonly HistogramCounter _inferenceHistogram = new(HistogramSnapshot.RequestBounds);
    private readonly HistogramCounter _promptTokenHistogram = new(HistogramSnapshot.OneTwoFive(contextLength));
    private readonly HistogramCounter _generationTokenHistogram = new(HistogramSnapshot.OneTwoFive(contextLength));
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
            _prefillHistogram.Observe(metrics.TimeToFirstToken - metrics.QueueTime);
            _decodeHistogram.Observe(metrics.Total - metrics.TimeToFirstToken);
            _inferenceHistogram.Observe(metrics.Total - metrics.QueueTime);
            _promptTokenHistogram.Observe(metrics.PromptTokens);
            _generationTokenHistogram.Observe(metrics.CompletionTokens);
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

    /// <summary>The totals now; the latency windows are copied under the lock and summarised (sorted) outside it, so a reader holds up the loop for a copy only.</summary>
    public BatcherMetrics Snapshot(IReadOnlyList<DeviceMemoryUsage> memory, int running, int waiting, double kvCacheUsage)
    {
        TimeSpan[] firstTokens, gaps;
        BatcherMetrics totals;
        lock (_gate)
        {
            firstTokens = [.. _firstTokens];
            gaps = [.. _gaps];
            totals = new BatcherMetrics(_requests, _aborted + _errored, _promptTokens, _completionTokens, _steps, LatencySummary.Empty, LatencySummary.Empty,
                _prefillTokens / Math.Max(_prefillTime.TotalSeconds, 1e-9), _decodeTokens / Math.Max(_decodeTime.TotalSeconds, 1e-9), memory)
            {
                Running = running,
                Waiting = waiting,
                KvCacheUsage = kvCacheUsage,
                Outcomes = new RequestOutcomes(_stopped, _length, _aborted, _errored),
                Histograms = new RequestHistograms(_firstTokenHistogram.Snapshot(), _gapHistogram.Snapshot(), _totalHistogram.Snapshot(), _queueHistogram.Snapshot(),
                    _prefillHistogram.Snapshot(), _decodeHistogram.Snapshot(), _inferenceHistogram.Snapshot(), _promptTokenHistogram.Snapshot(), _generationTokenHistogram.Snapshot()),
            };
        }
        return totals with { TimeToFirstToken = LatencySummary.Of(firstTokens), InterTokenLatency = LatencySummary.Of(gaps) };
    }

    private static void Add(Queue<TimeSpan> window, TimeSpan sample)
    {
        if (window.Count == Window) window.Dequeue();
        window.Enqueue(sample);
    }
}
