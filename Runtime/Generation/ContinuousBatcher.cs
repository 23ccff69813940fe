using System.Collections.Concurrent;
using System.Diagnostics;
using Tessera.Parallelism;
using Tessera.Text;

namespace Tessera.Generation;

/// <summary>
/// Serves generation requests with one engine by continuous batching (as Orca and vLLM do): requests wait in one queue;
/// up to <see cref="MaxInFlight"/> of them hold a slot (a KV cache) at a time; every step runs ONE
/// <see cref="TokenBatch"/> with the next chunk of the prompt of each sequence still being prefilled (at most
/// <see cref="BatcherLimits.PrefillChunkTokens"/> prompt tokens per step in all) and one token for each sequence already
/// decoding, logits of the last row of each sequence only, then samples every sequence whose prompt is done, streams
/// its token, and frees the slot of each sequence that finished (stop token or string, max tokens, full context) so the
/// next queued request joins the very next step.
/// <code>
/// using var batcher = new ContinuousBatcher(engine, tokenizer, maxInFlight: 8);
/// var request = batcher.Submit(tokenizer.Encode("Once upon a time"), new SamplingOptions { MaxTokens = 32 });
/// await foreach (var token in request.Tokens()) Console.Write(token.Text);
/// GenerationOutput output = await request.Completion;
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// Several choices of one prompt (<see cref="SubmitChoices"/>) share its prefill: the first runs the prompt while the
/// others wait in their slots; then each other choice starts from a copy of its cache
/// (<see cref="ITransformerEngine.TryCopyCache"/>) and draws its first token from the same logits row with its own
/// sampler. An engine whose caches cannot be copied (a parallel or GPU engine's handles), or a choice admitted after the
/// first one's prompt has run, runs the prompt itself.
/// </para>
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
/// than the context, an id outside the vocabulary) fails only its own request, and so does anything that goes wrong
/// with one request after the step's forward (its logits are not finite, its token cannot be decoded): the step loop
/// turns it into that request's error in one place (<see cref="ForRequest"/>) and serves the others.
/// </para>
/// <para>
/// The model may have more ids than the tokenizer: real checkpoints pad their embedding to a round size (Qwen2.5 has
/// 151,936 rows for 151,665 tokens). The padding ids have no text, so they are masked from sampling: every request
/// draws among ids below <see cref="ITokenizer.VocabSize"/> (<see cref="EmittableIds"/>). A tokenizer with more ids than
/// the model still works for prompts that use ids the model has; one that uses others is refused as out of vocabulary.
/// </para>
/// </remarks>
public sealed class ContinuousBatcher : IDisposable, IAsyncDisposable
{
    /// <summary>The default number of sequences in flight.</summary>
    public const int DefaultMaxInFlight = 8;

    private readonly ConcurrentQueue<GenerationSequence> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly List<GenerationSequence> _active = [];
    private readonly System.Collections.Concurrent.ConcurrentStack<KvCache> _freeCaches = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _submitGate = new();
    private readonly MetricsCollector _metrics;

    /// <summary>The step's logits (one row per sequence), reused while the number of sequences stays: only the step loop touches it.</summary>
    private float[] _logits = [];
    private readonly Thread _loop;
    private long _nextId;
    private readonly ConcurrentDictionary<KvCache, byte> _caches = new(); // every cache alive (pooled ones are reused)
    private readonly long _bytesPerPosition;
    private long _reservedBytes; // KV bytes counted for the sequences in flight (with a KV-cache limit)
    private int _inFlight; // _active.Count, for Submit's threads
    private long _positionsInFlight; // KV positions the sequences in flight hold, after the last step (for the metrics' readers)
    private bool _closed;

    /// <param name="engine">the model; used only by this batcher while it runs</param>
    /// <param name="tokenizer">turns tokens into streamed text and supplies the default stop tokens; null: ids only (no text, no stop strings)</param>
    /// <param name="maxInFlight">the most sequences that hold a KV cache and run together</param>
    public ContinuousBatcher(ITransformerEngine engine, ITokenizer? tokenizer = null, int maxInFlight = DefaultMaxInFlight)
        : this(engine, tokenizer, new BatcherLimits { MaxInFlight = maxInFlight })
    {
    }

    /// <param name="engine">the model; used only by this batcher while it runs</param>
    /// <param name="tokenizer">turns tokens into streamed text and supplies the default stop tokens; null: ids only</param>
    /// <param name="limits">sequences in flight, queue length, KV-cache memory and prompt tokens per step</param>
    public ContinuousBatcher(ITransformerEngine engine, ITokenizer? tokenizer, BatcherLimits limits)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        Engine = engine;
        Tokenizer = tokenizer;
        Limits = limits;
        // Keys and values of every layer, fp32: what one position costs a whole (one-device) cache.
        _bytesPerPosition = 2L * engine.Shape.Layers * engine.Shape.KvWidth * sizeof(float);
        if (tokenizer is { VocabSize: < 1 }) throw new ArgumentException("The tokenizer has no token ids: the model's output could never be decoded.", nameof(tokenizer));
        EmittableIds = Math.Min(engine.Shape.VocabSize, tokenizer?.VocabSize ?? int.MaxValue);
        _metrics = new MetricsCollector(engine.Shape.ContextLength);
        int firstRows = Math.Min(engine.Shape.ContextLength, KvCache.InitialRows);
        if (limits.KvCacheBytes < firstRows * _bytesPerPosition)
            throw new ArgumentOutOfRangeException(nameof(limits), limits.KvCacheBytes,
                $"A KV-cache limit of {limits.KvCacheBytes} bytes holds less than one new cache ({firstRows} positions of {_bytesPerPosition} bytes).");
        _loop = new Thread(Run) { Name = "tessera-batcher", IsBackground = true };
        _loop.Start();
    }

    public ITransformerEngine Engine { get; }

    public ITokenizer? Tokenizer { get; }

    /// <summary>
    /// The ids a request may draw: [0, EmittableIds), those both the model and the tokenizer have. The model's ids past
    /// the tokenizer's (an embedding padded to a round size) get probability zero.
    /// </summary>
    public int EmittableIds { get; }

    /// <summary>The most sequences that run together (each holds a KV cache).</summary>
    public int MaxInFlight => Limits.MaxInFlight;

    public BatcherLimits Limits { get; }

    /// <summary>
    /// The most new tokens a request with a prompt of <paramref name="promptLength"/> tokens can be given: up to a full
    /// context, and, under a KV-cache limit, what one sequence may hold. A server uses it for a request that names none.
    /// </summary>
    public int MaxNewTokens(int promptLength)
    {
        // A sequence of P prompt tokens and N new ones writes P + N - 1 positions (the last token is never fed back).
        int positions = Math.Min(Engine.Shape.ContextLength, FittingPositions);
        return Math.Max(1, positions - promptLength + 1);
    }

    /// <summary>The most positions one sequence may hold under the KV-cache limit (the context without one).</summary>
    private int FittingPositions => Limits.KvCacheBytes is long limit
        ? (int)Math.Min(int.MaxValue, limit / Math.Max(1, _bytesPerPosition))
        : Engine.Shape.ContextLength;

    /// <summary>Queues a request for token ids; it runs as soon as a slot is free.</summary>
    /// <exception cref="ArgumentException">an empty prompt, options out of range, or stop strings without a tokenizer</exception>
    /// <exception cref="KvCacheLimitException">the request could not fit in the KV-cache limit even alone</exception>
    /// <exception cref="QueueFullException">as many requests as the limit already wait</exception>
    /// <exception cref="InvalidOperationException">the batcher is shutting down</exception>
    public GenerationStream Submit(ReadOnlySpan<int> prompt, SamplingOptions? options = null, CancellationToken cancellationToken = default) =>
        SubmitChoices(prompt, options, 1, cancellationToken)[0];

    /// <summary>
    /// Queues <paramref name="choices"/> generations from one prompt (OpenAI's <c>n</c>), which share its prefill; choice
    /// i samples with <see cref="SamplingOptions.ForChoice"/>(i). The streams are in choice order.
    /// </summary>
    /// <exception cref="ArgumentException">as <see cref="Submit(ReadOnlySpan{int}, SamplingOptions?, CancellationToken)"/>, or fewer than one choice</exception>
    public IReadOnlyList<GenerationStream> SubmitChoices(ReadOnlySpan<int> prompt, SamplingOptions? options, int choices, CancellationToken cancellationToken = default)
    {
        options ??= SamplingOptions.Greedy;
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(choices, 1);
        if (prompt.IsEmpty) throw new ArgumentException("The prompt needs at least one token.", nameof(prompt));
        foreach (int id in options.LogitBias?.Keys ?? [])
            if (id >= Engine.Shape.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(options), id, $"logit_bias names token id {id}, outside the vocabulary of {Engine.Shape.VocabSize} ids.");
        if (options.StopStrings.Count > 0 && Tokenizer is null) throw new ArgumentException("Stop strings need a tokenizer to turn tokens into text.", nameof(options));
        int positions = PositionsToReserve(prompt.Length, options.MaxTokens);
        if (Limits.KvCacheBytes is long limit && positions * _bytesPerPosition > limit)
            throw new KvCacheLimitException(positions, positions * _bytesPerPosition, limit, FittingPositions);
        lock (_submitGate)
        {
            if (_closed) throw new InvalidOperationException("The batcher is shutting down and takes no new requests.");
            // Requests the free slots will take at the next step are not waiting.
            int waiting = _queue.Count - (MaxInFlight - Volatile.Read(ref _inFlight));
            if (waiting + choices > Limits.MaxQueued) throw new QueueFullException(Math.Max(0, waiting));
            long id = ++_nextId;
            int[] tokens = prompt.ToArray();
            var streams = new GenerationStream[choices];
            GenerationSequence? first = null;
            for (int choice = 0; choice < choices; choice++)
            {
                var sequence = new GenerationSequence(id, tokens, options, Tokenizer, cancellationToken, choice, first) { ReservedPositions = positions };
                first ??= sequence;
                streams[choice] = sequence.Stream;
                _queue.Enqueue(sequence); // consecutive: the free slots take the choices together
            }
            _wake.Release();
            return streams;
        }
    }

    /// <summary>Encodes <paramref name="prompt"/> with the tokenizer (special tokens added, e.g. Llama's &lt;s&gt;) and queues it.</summary>
    public GenerationStream Submit(string prompt, SamplingOptions? options = null, CancellationToken cancellationToken = default)
    {
        var tokenizer = Tokenizer ?? throw new InvalidOperationException("A text prompt needs a tokenizer: this batcher was made without one.");
        return Submit(tokenizer.Encode(prompt), options, cancellationToken);
    }

    /// <summary>
    /// A cache of this engine for the pool the batcher's requests take theirs from: the one the load's warm-up ran on
    /// (EngineCatalog.WarmUp), whose memory is resident, so that the first request does not fault in a new one. Under a
    /// KV-cache limit caches are made per request to their budget, and this one is not used.
    /// </summary>
    public void AddCache(KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (Limits.KvCacheBytes is not null) return;
        cache.Reset();
        _caches.TryAdd(cache, 0);
        _freeCaches.Push(cache);
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

    /// <summary>Aggregated latency and throughput of the finished requests, the queue, and memory per device, now.</summary>
    public BatcherMetrics Metrics => _metrics.Snapshot(Memory(), Volatile.Read(ref _inFlight), _queue.Count, KvCacheUsage());

    /// <summary>Whether <see cref="Submit(ReadOnlySpan{int}, SamplingOptions?, CancellationToken)"/> takes requests: false once shutdown began.</summary>
    public bool IsAccepting => !Volatile.Read(ref _closed);

    /// <summary>
    /// The fraction of the KV-cache room in use: under a KV-cache limit, what is counted for the sequences in flight;
    /// without one, the positions they hold over a full context for each of <see cref="MaxInFlight"/> slots.
    /// </summary>
    private double KvCacheUsage() => Limits.KvCacheBytes is long limit
        ? Math.Clamp((double)Interlocked.Read(ref _reservedBytes) / limit, 0, 1)
        : Math.Clamp((double)Interlocked.Read(ref _positionsInFlight) / ((long)MaxInFlight * Engine.Shape.ContextLength), 0, 1);

    /// <summary>Memory per device: a parallel engine's devices, or the single device's weights and the batcher's KV caches.</summary>
    public IReadOnlyList<DeviceMemoryUsage> Memory() => Engine is ParallelEngine parallel
        ? parallel.Devices.Select(d => new DeviceMemoryUsage(d.Name, d.Memory.Weights, d.Memory.KvCache, d.Memory.Activations)).ToArray()
        : [new DeviceMemoryUsage("cpu:0", Engine.WeightBytes, _caches.Keys.Sum(c => c.Bytes), 0)];

    /// <summary>
    /// Positions counted for a request under a KV-cache limit: its prompt and max tokens up to the context, and at
    /// least what a new cache allocates first.
    /// </summary>
    private int PositionsToReserve(int promptLength, int maxTokens)
    {
        int context = Engine.Shape.ContextLength;
        long needed = Math.Min(context, (long)promptLength + maxTokens - 1);
        return (int)Math.Max(needed, Math.Min(context, KvCache.InitialRows));
    }

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
                    PublishPositions();
                    continue;
                }
                PublishPositions();
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

    /// <summary>
    /// Fills free slots from the queue in order, failing the requests that cannot run. Under a KV-cache limit the head of
    /// the queue waits (and those behind it) until its positions fit beside those of the sequences in flight.
    /// </summary>
    private void Admit()
    {
        while (_active.Count < MaxInFlight && _queue.TryPeek(out var next))
        {
            if (Limits.KvCacheBytes is long limit && _active.Count > 0 && !next.Cancellation.IsCancellationRequested
                && _reservedBytes + next.ReservedPositions * _bytesPerPosition > limit)
                break;
            if (!_queue.TryDequeue(out var sequence)) break;
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
            KvCache cache;
            try
            {
                cache = RentCache(sequence);
            }
            catch (Exception e) when (e is OutOfMemoryException or InsufficientMemoryException or InvalidOperationException or OverflowException)
            {
                // This request alone fails; the batcher and the requests after it go on.
                End(sequence, new KvCacheAllocationException(sequence.ReservedPositions, e));
                continue;
            }
            sequence.Admit(cache);
            _active.Add(sequence);
            Volatile.Write(ref _inFlight, _active.Count);
        }
    }

    /// <summary>What the metrics read of the caches in flight: one sum over at most <see cref="MaxInFlight"/> sequences per step.</summary>
    private void PublishPositions()
    {
        long positions = 0;
        foreach (var sequence in _active) positions += sequence.Cache?.Length ?? 0;
        Interlocked.Exchange(ref _positionsInFlight, positions);
    }

    private void DropCancelled()
    {
        foreach (var sequence in _active.Where(s => s.Cancellation.IsCancellationRequested).ToArray())
            End(sequence, new OperationCanceledException(sequence.Cancellation));
    }

    /// <summary>
    /// One forward over the sequences in flight: each decoding sequence's last token, and the next prompt chunks of those
    /// being prefilled, oldest first, within <see cref="BatcherLimits.PrefillChunkTokens"/>. Then one sampled token for
    /// each sequence whose prompt is done.
    /// </summary>
    private void Step()
    {
        var sequences = new List<GenerationSequence>(_active.Count);
        var inputs = new List<int[]>(_active.Count);
        int promptBudget = Limits.PrefillChunkTokens;
        foreach (var sequence in _active.ToArray())
        {
            if (sequence.Parent is { } parent)
            {
                if (parent.IsPrefill && _active.Contains(parent)) continue; // forks from its cache once the prompt has run
                sequence.Parent = null; // the first choice ended, or ran its prompt before this one came in: run it here
            }
            if (sequence.IsPrefill && promptBudget == 0) continue;
            int[] input = sequence.NextInput(promptBudget);
            if (sequence.IsPrefill) promptBudget -= input.Length;
            if (!TryReserve(sequence, input.Length)) continue;
            sequences.Add(sequence);
            inputs.Add(input);
        }
        if (sequences.Count == 0) return;

        // One logits row per sequence, into the batcher's array while the step size stays (no 128 KB object per step).
        // A sequence that asked for its prompt's log-probabilities needs every row's logits while it prefills; engines
        // give the logits of every row or of each sequence's last (a parallel engine knows no other choice), so such a
        // step asks every row of every sequence: the cost falls on the steps of those requests only.
        bool everyRow = sequences.Any(s => s.WantsPromptLogits);
        int vocab = Engine.Shape.VocabSize;
        int logitRows = everyRow ? inputs.Sum(input => input.Length) : sequences.Count;
        if (_logits.Length != logitRows * vocab) _logits = new float[logitRows * vocab];
        var batch = TokenBatch.ForSequences(sequences.Select(s => s.Cache!).ToArray(), inputs, lastLogitsOnly: !everyRow).WithLogitsInto(_logits);
        int prefillTokens = 0, decodeTokens = 0;
        for (int i = 0; i < sequences.Count; i++)
            if (sequences[i].IsPrefill) prefillTokens += inputs[i].Length;
            else decodeTokens++;
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
        _metrics.RecordStep(elapsed, prefillTokens, decodeTokens);

        for (int i = 0, row = 0; i < sequences.Count; row += everyRow ? inputs[i].Length : 1, i++)
        {
            var sequence = sequences[i];
            int ran = inputs[i].Length, first = row * vocab, count = (everyRow ? ran : 1) * vocab;
            ForRequest(sequence, () => Advance(sequence, logits.AsSpan(first, count), ran, elapsed));
        }
    }

    /// <summary>
    /// The one place a request's failure inside the step loop becomes that request's error: whatever
    /// <paramref name="work"/> throws ends <paramref name="sequence"/> with it, and the loop goes on with the others
    /// (a bug in the loop itself would otherwise stop the batcher for every request).
    /// </summary>
    private void ForRequest(GenerationSequence sequence, Action work)
    {
        try
        {
            work();
        }
        catch (Exception e)
        {
            End(sequence, e);
        }
    }

    /// <summary>
    /// What a sequence does with its rows of the step's logits: records its prompt's log-probabilities, and once its
    /// prompt has run, starts the choices that wait for it and samples its next token.
    /// </summary>
    private void Advance(GenerationSequence sequence, Span<float> rows, int ran, TimeSpan elapsed)
    {
        int vocab = Engine.Shape.VocabSize;
        if (sequence.WantsPromptLogits) sequence.RecordPromptLogits(rows, vocab);
        if (!sequence.Ran(ran, elapsed)) return; // a chunk inside the prompt: its next token is the prompt's
        var last = rows[^vocab..];
        // The choices waiting for this prompt copy its cache before this sequence can end (and give the cache back),
        // and draw from the same row before this sequence's sampler changes it. Only a request of several choices has
        // any, and only at the end of its prompt: a decode step looks and copies nothing.
        if (sequence.Choice == 0 && _active.Any(s => s.Parent == sequence && s.AwaitsParent))
        {
            float[] shared = last.ToArray();
            foreach (var fork in _active.Where(s => s.Parent == sequence && s.AwaitsParent).ToArray())
                ForRequest(fork, () => Fork(sequence, fork, shared));
        }
        SampleNext(sequence, last);
    }

    /// <summary>
    /// Starts a waiting choice from a copy of its parent's cache, whose prompt has just run, and samples its first token
    /// from the prompt's last logits row. If the engine cannot copy its caches, the choice runs the prompt itself.
    /// </summary>
    private void Fork(GenerationSequence parent, GenerationSequence fork, float[] lastRow)
    {
        try
        {
            if (!Engine.TryCopyCache(parent.Cache!, fork.Cache!))
            {
                fork.Parent = null; // e.g. a parallel engine's handles: its keys and values are on its devices
                return;
            }
        }
        catch (Exception e) when (e is OutOfMemoryException or InsufficientMemoryException or InvalidOperationException)
        {
            End(fork, new KvCacheAllocationException(parent.Prompt.Length, e));
            return;
        }
        fork.Fork(parent);
        SampleNext(fork, lastRow.ToArray());
    }

    /// <summary>
    /// Samples the sequence's next token from its logits row (its scratch), streams it, and ends the sequence if it
    /// finished. Logits that are not finite fail the request; ids past <see cref="EmittableIds"/> are masked.
    /// </summary>
    private void SampleNext(GenerationSequence sequence, Span<float> row)
    {
        NonFiniteLogitsException.ThrowIfAny(row[..EmittableIds], row.Length);
        row[EmittableIds..].Fill(float.NegativeInfinity);
        // Log-probabilities of the raw logits (before bias, penalties and temperature), as vLLM reports them by default.
        double[]? logprobs = sequence.Sampler.Options.Logprobs is null ? null : TokenLogprob.LogSoftmax(row);
        int token = sequence.Sampler.Sample(row);
        var logprob = logprobs is null ? null : TokenLogprob.Of(logprobs, token, sequence.Sampler.Options.Logprobs!.Value);
        if (sequence.Accept(token, logprob) is FinishReason reason)
        {
            // Counted before the request completes: whoever awaits it then reads metrics that include it.
            var metrics = sequence.Measure();
            Release(sequence);
            _metrics.RecordFinished(metrics, reason, sequence.Gaps);
            sequence.Finish(reason, metrics);
        }
    }

    /// <summary>
    /// Grows a whole cache for this step's rows before the forward, so that an allocation that fails fails this
    /// sequence alone instead of the step's whole batch.
    /// </summary>
    private bool TryReserve(GenerationSequence sequence, int rows)
    {
        var cache = sequence.Cache!;
        if (cache.IsHandle || cache.IsShard) return true;
        try
        {
            cache.ReserveRows(cache.Length + rows);
            return true;
        }
        catch (Exception e) when (e is OutOfMemoryException or InsufficientMemoryException or InvalidOperationException)
        {
            End(sequence, new KvCacheAllocationException(cache.Length + rows, e));
            return false;
        }
    }

    private void End(GenerationSequence sequence, Exception error)
    {
        Release(sequence);
        _metrics.RecordFailed(error);
        sequence.Fail(error);
    }

    /// <summary>Takes a sequence out of flight: its cache back to the pool (or freed), its slot free.</summary>
    private void Release(GenerationSequence sequence)
    {
        ReturnCache(sequence);
        _active.Remove(sequence);
        Volatile.Write(ref _inFlight, _active.Count);
    }

    private void FailAll(Exception error)
    {
        foreach (var sequence in _active.ToArray()) End(sequence, error);
        while (_queue.TryDequeue(out var sequence)) End(sequence, error);
    }

    /// <summary>
    /// A cache for the sequence. Without a KV-cache limit caches are reused (a cache keeps the storage it grew to: keys
    /// and values are the largest allocation a request makes). Under one, a cache grows at most to the positions counted
    /// for its sequence and is released when the sequence ends, so what caches hold stays within the limit.
    /// </summary>
    private KvCache RentCache(GenerationSequence sequence)
    {
        if (Limits.KvCacheBytes is null && _freeCaches.TryPop(out var pooled)) return pooled;
        var cache = Engine.CreateCache();
        if (Limits.KvCacheBytes is not null)
        {
            cache.GrowthLimit = Math.Min(cache.Capacity, sequence.ReservedPositions);
            Interlocked.Add(ref _reservedBytes, sequence.ReservedPositions * _bytesPerPosition);
        }
        _caches.TryAdd(cache, 0);
        return cache;
    }

    private void ReturnCache(GenerationSequence sequence)
    {
        if (sequence.TakeCache() is not { } cache) return;
        if (Limits.KvCacheBytes is not null)
        {
            Interlocked.Add(ref _reservedBytes, -sequence.ReservedPositions * _bytesPerPosition);
            _caches.TryRemove(cache, out _);
            return;
        }
        cache.Reset();
        _freeCaches.Push(cache);
    }
}
