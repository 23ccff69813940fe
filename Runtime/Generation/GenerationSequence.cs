using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Tessera.Text;

namespace Tessera.Generation;

/// <summary>
/// The state of one request inside a <see cref="ContinuousBatcher"/>: what to feed next, what it produced, how to turn
/// ids into text and when to stop. Touched only by the batcher's loop thread (the channel and task are its outputs).
/// </summary>
internal sealed class GenerationSequence
{
    private readonly Channel<GeneratedToken> _channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleWriter = true });
    private readonly TaskCompletionSource<GenerationOutput> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<int> _stopTokens;
    private readonly StreamingDecoder? _detokenizer;
    private readonly StopStringFilter _stopStrings;
    private readonly List<int> _generated = [];
    private readonly StringBuilder _text = new();
    private readonly List<TimeSpan> _gaps = [];
    private readonly List<TokenLogprob>? _logprobs;        // when the options ask for the output's
    private readonly TokenLogprob?[]? _promptLogprobs;     // when the options ask for the prompt's: entry 0 stays null
    private readonly long _submitted = Stopwatch.GetTimestamp();
    private long _admitted, _lastToken, _firstToken;
    private TimeSpan _prefill;

    /// <param name="choice">which of the request's choices this is (each draws from its own stream)</param>
    /// <param name="parent">the request's choice 0, whose cache this one copies once its prompt has run; null for choice 0</param>
    public GenerationSequence(long id, int[] prompt, SamplingOptions options, ITokenizer? tokenizer, CancellationToken cancellation,
        int choice = 0, GenerationSequence? parent = null)
    {
        Id = id;
        Prompt = prompt;
        Choice = choice;
        Parent = parent;
        Sampler = new Sampler(options.ForChoice(choice), prompt);
        Cancellation = cancellation;
        if (options.Logprobs is not null) _logprobs = [];
        if (options.PromptLogprobs is not null) _promptLogprobs = new TokenLogprob?[prompt.Length];
        _stopTokens = [.. options.StopTokens ?? tokenizer?.EndOfSequence ?? []];
        if (tokenizer is not null)
        {
            // Primed with the prompt, so the continuation decodes as it reads after it (a word-initial space is kept).
            _detokenizer = new StreamingDecoder(tokenizer);
            _detokenizer.Add(prompt);
        }
        _stopStrings = new StopStringFilter(options.StopStrings);
        Stream = new GenerationStream(id, _channel.Reader, _done.Task, choice);
    }

    public long Id { get; }

    public int[] Prompt { get; }

    public Sampler Sampler { get; }

    public int Choice { get; }

    /// <summary>
    /// The choice whose prefill this one shares: it waits, running nothing, until the parent's prompt has run, then
    /// starts from a copy of its cache (<see cref="Fork"/>). Null once forked, or when it runs its own prompt.
    /// </summary>
    public GenerationSequence? Parent { get; set; }

    /// <summary>True while the sequence waits for its parent's prompt (see <see cref="Parent"/>).</summary>
    public bool AwaitsParent => Parent is not null && Prefilled == 0;

    /// <summary>True while the prefill must return the logits of every prompt row (the prompt's log-probabilities were asked for).</summary>
    public bool WantsPromptLogits => _promptLogprobs is not null && IsPrefill;

    public CancellationToken Cancellation { get; }

    public GenerationStream Stream { get; }

    /// <summary>The sequence's cache while it holds a slot.</summary>
    public KvCache? Cache { get; private set; }

    /// <summary>Prompt tokens already run: the prefill is done when this reaches the prompt's length.</summary>
    public int Prefilled { get; private set; }

    public bool IsPrefill => Prefilled < Prompt.Length;

    /// <summary>Positions the sequence may come to hold, counted against a KV-cache budget while it runs.</summary>
    public int ReservedPositions { get; set; }

    public void Admit(KvCache cache)
    {
        Cache = cache;
        _admitted = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// The rows to run this step: while prefilling, the next at most <paramref name="promptBudget"/> prompt tokens
    /// (chunked prefill); then the last sampled token.
    /// </summary>
    public int[] NextInput(int promptBudget) => IsPrefill
        ? Prompt.AsSpan(Prefilled, Math.Min(promptBudget, Prompt.Length - Prefilled)).ToArray()
        : [_generated[^1]];

    /// <summary>
    /// Records that a step ran <paramref name="rows"/> of its rows; returns true when the step's logits are its next
    /// token's (a decode step, or the chunk that ends the prompt), false for a chunk inside the prompt.
    /// </summary>
    public bool Ran(int rows, TimeSpan stepTime)
    {
        if (!IsPrefill) return true;
        Prefilled += rows;
        _prefill += stepTime;
        return !IsPrefill;
    }

    /// <summary>
    /// Takes the logits of the rows a prefill chunk ran (<paramref name="rows"/>: one per input row, before
    /// <see cref="Ran"/>): row j predicts prompt token Prefilled + j + 1, whose log-probability it records.
    /// </summary>
    public void RecordPromptLogits(ReadOnlySpan<float> rows, int vocab)
    {
        if (_promptLogprobs is null) return;
        int top = Sampler.Options.PromptLogprobs ?? 0;
        for (int j = 0; j * vocab < rows.Length; j++)
        {
            int next = Prefilled + j + 1;
            if (next < Prompt.Length) _promptLogprobs[next] = TokenLogprob.Of(rows.Slice(j * vocab, vocab), Prompt[next], top);
        }
    }

    /// <summary>Starts from the parent's prompt, whose keys and values the caller copied into this sequence's cache.</summary>
    public void Fork(GenerationSequence parent)
    {
        Prefilled = Prompt.Length;
        _prefill = parent._prefill;
        parent._promptLogprobs?.CopyTo(_promptLogprobs!, 0);
        Parent = null;
    }

    /// <summary>Takes the sampled token: streams it, and returns why the sequence ends, or null when it goes on.</summary>
    /// <param name="logprob">its log-probability, when the options ask for them</param>
    public FinishReason? Accept(int token, TokenLogprob? logprob = null)
    {
        long now = Stopwatch.GetTimestamp();
        if (_generated.Count == 0)
        {
            _firstToken = now;
            Stream.PromptLogprobs = _promptLogprobs; // before the first token is written: its reader sees them
        }
        else _gaps.Add(Stopwatch.GetElapsedTime(_lastToken, now));
        _lastToken = now;
        _generated.Add(token);
        if (logprob is not null) _logprobs?.Add(logprob);

        FinishReason? finish = null;
        string piece = _detokenizer?.Add(token) ?? "";
        string shown = _stopStrings.Push(piece);
        if (_stopStrings.Stopped || _stopTokens.Contains(token)) finish = FinishReason.Stop;
        else if (_generated.Count >= Sampler.Options.MaxTokens) finish = FinishReason.MaxTokens;
        else if (Cache!.Length + 1 > Cache.Capacity) finish = FinishReason.ContextFull;
        if (finish is not null && !_stopStrings.Stopped)
            shown += _stopStrings.Push(_detokenizer?.Flush() ?? "") + _stopStrings.Flush();

        _text.Append(shown);
        _channel.Writer.TryWrite(new GeneratedToken(token, shown, _generated.Count - 1, logprob));
        return finish;
    }

    /// <summary>The request's metrics as of now (taken when it ends, before <see cref="Finish"/>).</summary>
    public GenerationMetrics Measure() =>
        new(Prompt.Length, _generated.Count, Stopwatch.GetElapsedTime(_submitted, _admitted),
            Stopwatch.GetElapsedTime(_submitted, _firstToken), _prefill, LatencySummary.Of(_gaps), Stopwatch.GetElapsedTime(_submitted));

    /// <summary>Ends the request normally with the metrics it was measured with.</summary>
    public void Finish(FinishReason reason, GenerationMetrics metrics)
    {
        _channel.Writer.TryComplete();
        _done.TrySetResult(new GenerationOutput(Prompt, _generated.ToArray(), _text.ToString(), reason, metrics)
        {
            Choice = Choice,
            Logprobs = _logprobs?.ToArray(),
            PromptLogprobs = _promptLogprobs,
        });
    }

    /// <summary>Ends the request with an error (or as cancelled, for an <see cref="OperationCanceledException"/>).</summary>
    public void Fail(Exception error)
    {
        _channel.Writer.TryComplete(error);
        if (error is OperationCanceledException cancelled) _done.TrySetCanceled(cancelled.CancellationToken);
        else _done.TrySetException(error);
    }

    /// <summary>The gaps between its tokens (for the batcher's aggregate).</summary>
    public IReadOnlyList<TimeSpan> Gaps => _gaps;

    /// <summary>Takes the slot's cache away from the sequence (the batcher returns it to its pool).</summary>
    public KvCache? TakeCache()
    {
        var cache = Cache;
        Cache = null;
        return cache;
    }
}
