using System.Collections.Concurrent;
using System.Diagnostics;
using Tessera.Parallelism;
using Tessera.Text;

namespace Tessera.Generation;

/// <summary>
/// Serves generation requests with one engine by continuous batching (as Orca and vLLM do): requests wait in one queue;
/// up to <see cref="MaxInFlight"/> of them hold a slot (a KV cache) at a time; every step runs ONE
/// <see cref="TokenBatch"/> with the whole prompt of each newly admitted sequence (its prefill) and one token for each
/// sequence already decoding, logits of the last row of each sequence only, then samples every sequence, streams its
/// token, and frees the slot of each sequence that finished (stop token or string, max tokens, full context) so the next
/// queued request joins the very next step.
/// <code>
/// using var batcher = new ContinuousBatcher(engine, tokenizer, maxInFlight: 8);
/// var request = batcher.Submit(tokenizer.Encode("Once upon a time"), new SamplingOptions { MaxTokens = 32 });
/// await foreach (var token in request.Tokens()) Console.Write(token.Text);
/// GenerationOutput output = await request.Completion;
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// With a <see cref="ParallelEngine"/> the batcher needs nothing special. Under pipeline parallelism the engine cuts each
/// step's sequences into its micro-batches, so the in-flight sequences are the micro-batches that keep the stages busy
/// (set <see cref="MaxInFlight"/> to at least the plan's micro-batches). Under data parallelism this one queue feeds every
/// replica: the engine's partitioner spreads each step's sequences over the replicas, keeping a sequence on the replica
/// that holds its KV cache (sticky) and placing newly admitted ones where there are fewest.
/// </para>
/// <para>
/// Each request samples with its own seeded <see cref="Sampler"/>, so its output does not depend on what it was batched
/// with; under greedy decoding the output equals running the request alone. The engine is used only by the batcher's
/// own thread (engines are not thread-safe); the batcher does not dispose it. A prompt the model cannot run (longer
/// than the context, an id outside the vocabulary) fails only its own request.
/// </para>
/// </remarks>
public sealed class ContinuousBatcher : IDisposable, IAsyncDisposable
{
    /// <summary>The default number of sequences in flight.</summary>
    public const int DefaultMaxInFlight = 8;

    private readonly ConcurrentQueue<GenerationSequence> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly List<GenerationSequence> _active = [];
    private readonly Stack<KvCache> _freeCaches = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _submitGate = new();
    private readonly MetricsCollector _metrics = new();
    private readonly Thread _loop;
    private long _nextId;
    private readonly System.Collections.Concurrent.ConcurrentQueue<KvCache> _caches = new(); // every cache rented so far (they are reused)
    private bool _closed;

    /// <param name="engine">the model; used only by this batcher while it runs</param>
    /// <param name="tokenizer">turns tokens into streamed text and supplies the default stop tokens; null: ids only (no text, no stop strings)</param>
    /// <param name="maxInFlight">the most sequences that hold a KV cache and run together</param>
    public ContinuousBatcher(ITransformerEngine engine, ITokenizer? tokenizer = null, int maxInFlight = DefaultMaxInFlight)
    {
        ArgumentNullException.ThrowIfNull(engine);
        if (maxInFlight < 1) throw new ArgumentOutOfRangeException(nameof(maxInFlight), maxInFlight, $"At least one sequence must be in flight (got {maxInFlight}).");
        Engine = engine;
        Tokenizer = tokenizer;
        MaxInFlight = maxInFlight;
        _loop = new Thread(Run) { Name = "tessera-batcher", IsBackground = true };
        _loop.Start();
    }

    public ITransformerEngine Engine { get; }

    public ITokenizer? Tokenizer { get; }

    /// <summary>The most sequences that run together (each holds a KV cache of the full context).</summary>
    public int MaxInFlight { get; }

    /// <summary>Queues a request for token ids; it runs as soon as a slot is free.</summary>
    /// <exception cref="ArgumentException">an empty prompt, options out of range, or stop strings without a tokenizer</exception>
    /// <exception cref="InvalidOperationException">the batcher is shutting down</exception>
    public GenerationStream Submit(ReadOnlySpan<int> prompt, SamplingOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= SamplingOptions.Greedy;
        options.Validate();
        if (prompt.IsEmpty) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        if (options.StopStrings.Count > 0 && Tokenizer is null) throw new ArgumentException("Stop strings need a tokenizer to turn tokens into text.", nameof(options));
        lock (_submitGate)
        {
            if (_closed) throw new InvalidOperationException("The batcher is shutting down and takes no new requests.");
            var sequence = new GenerationSequence(++_nextId, prompt.ToArray(), options, Tokenizer, cancellationToken);
            _queue.Enqueue(sequence);
            _wake.Release();
            return sequence.Stream;
        }
    }

    /// <summary>Encodes <paramref name="prompt"/> with the tokenizer (special tokens added, e.g. Llama's &lt;s&gt;) and queues it.</summary>
    public GenerationStream Submit(string prompt, SamplingOptions? options = null, CancellationToken cancellationToken = default)
    {
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("A text prompt needs a tokenizer: this batcher was made without one.");
        return Submit(tokenizer.Encode(prompt), options, cancellationToken);
    }

    /// <summary>Throws what running this prompt would: a <see cref="ContextOverflowException"/> or an out-of-vocabulary id. Lets a server answer 400 before it queues.</summary>
    public void ValidatePrompt(ReadOnlySpan<int> prompt)
    {
        var shape = Engine.Shape;
        if (prompt.IsEmpty) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        if (prompt.Length > shape.ContextLength) throw new ContextOverflowException(prompt.Length, shape.ContextLength);
        foreach (int id in prompt)
            if ((uint)id >= (uint)shape.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Token id {id} is outside the vocabulary of {shape.VocabSize} ids.");
    }

    /// <summary>Aggregated latency and throughput of the finished requests, and memory per device, now.</summary>
    public BatcherMetrics Metrics => _metrics.Snapshot(Memory());

    /// <summary>Memory per device: a parallel engine's devices, or the single device's weights and the batcher's KV caches.</summary>
    public IReadOnlyList<DeviceMemoryUsage> Memory() => Engine is ParallelEngine parallel
        ? parallel.Devices.Select(d => new DeviceMemoryUsage(d.Name, d.Memory.Weights, d.Memory.KvCache, d.Memory.Activations)).ToArray()
        : [new DeviceMemoryUsage("cpu:0", Engine.WeightBytes, _caches.Sum(c => c.Bytes), 0)];

    /// <summary>Graceful shutdown: takes no new requests, finishes the queued and running ones, then stops. Cancelling aborts what is left.</summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        Close();
        using (cancellationToken.Register(() => _abort.Cancel()))
            await _stopped.Task.ConfigureAwait(false);
    }

    /// <summary>Stops now: queued and running requests end as cancelled.</summary>
    public void Dispose()
    {
        Close();
        _abort.Cancel();
        if (Thread.CurrentThread != _loop) _loop.Join();
    }

    /// <summary>Stops now, as <see cref="Dispose"/>, without blocking the caller.</summary>
    public async ValueTask DisposeAsync()
    {
        Close();
        _abort.Cancel();
        await _stopped.Task.ConfigureAwait(false);
    }

    private void Close()
    {
        lock (_submitGate) _closed = true;
        _wake.Release();
    }

    private void Run()
    {
        try
        {
            while (!_abort.IsCancellationRequested)
            {
                Admit();
                DropCancelled();
                if (_active.Count > 0)
                {
                    Step();
                    continue;
                }
                lock (_submitGate)
                    if (_closed && _queue.IsEmpty) break;
                try
                {
                    _wake.Wait(_abort.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
            FailAll(new OperationCanceledException("The batcher was stopped before this request finished."));
        }
        catch (Exception e)
        {
            // A bug in the loop itself: no request may wait forever on a loop that is gone.
            FailAll(e);
        }
        finally
        {
            lock (_submitGate) _closed = true;
            FailAll(new OperationCanceledException("The batcher was stopped before this request finished."));
            _stopped.TrySetResult();
        }
    }

    /// <summary>Fills free slots from the queue, failing the requests that cannot run.</summary>
    private void Admit()
    {
        while (_active.Count < MaxInFlight && _queue.TryDequeue(out var sequence))
        {
            if (sequence.Cancellation.IsCancellationRequested)
            {
                End(sequence, new OperationCanceledException(sequence.Cancellation));
                continue;
            }
            try
            {
                ValidatePrompt(sequence.Prompt);
            }
            catch (Exception e) when (e is ArgumentException or ContextOverflowException)
            {
                End(sequence, e);
                continue;
            }
            sequence.Admit(RentCache());
            _active.Add(sequence);
        }
    }

    private void DropCancelled()
    {
        foreach (var sequence in _active.Where(s => s.Cancellation.IsCancellationRequested).ToArray())
            End(sequence, new OperationCanceledException(sequence.Cancellation));
    }

    /// <summary>One forward over every sequence in flight, then one sampled token each.</summary>
    private void Step()
    {
        var sequences = _active.ToArray();
        var batch = TokenBatch.ForSequences(sequences.Select(s => s.Cache!).ToArray(), sequences.Select(s => s.NextInput).ToArray(), lastLogitsOnly: true);
        int prefillTokens = sequences.Where(s => s.IsPrefill).Sum(s => s.Prompt.Length);
        long start = Stopwatch.GetTimestamp();
        float[] logits;
        try
        {
            logits = Engine.Forward(batch);
        }
        catch (Exception e)
        {
            // The step's sequences cannot know what their caches hold now: they fail; queued requests go on.
            foreach (var sequence in sequences) End(sequence, e);
            return;
        }
        var elapsed = Stopwatch.GetElapsedTime(start);
        _metrics.RecordStep(elapsed, prefillTokens, sequences.Length - sequences.Count(s => s.IsPrefill));

        int vocab = Engine.Shape.VocabSize;
        for (int i = 0; i < sequences.Length; i++)
        {
            var sequence = sequences[i];
            if (sequence.Accept(sequence.Sampler.Sample(logits.AsSpan(i * vocab, vocab)), elapsed) is FinishReason reason)
            {
                ReturnCache(sequence);
                _active.Remove(sequence);
                _metrics.RecordFinished(sequence.Finish(reason), sequence.Gaps);
            }
        }
    }

    private void End(GenerationSequence sequence, Exception error)
    {
        ReturnCache(sequence);
        _active.Remove(sequence);
        _metrics.RecordFailed();
        sequence.Fail(error);
    }

    private void FailAll(Exception error)
    {
        foreach (var sequence in _active.ToArray()) End(sequence, error);
        while (_queue.TryDequeue(out var sequence)) End(sequence, error);
    }

    /// <summary>Caches are reused (a cache keeps the storage it grew to): their keys and values are the largest allocation a request makes.</summary>
    private KvCache RentCache()
    {
        if (_freeCaches.TryPop(out var cache)) return cache;
        cache = Engine.CreateCache();
        _caches.Enqueue(cache);
        return cache;
    }

    private void ReturnCache(GenerationSequence sequence)
    {
        if (sequence.TakeCache() is not { } cache) return;
        cache.Reset();
        _freeCaches.Push(cache);
    }
}
