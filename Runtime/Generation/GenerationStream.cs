using System.Threading.Channels;

namespace Tessera.Generation;

/// <summary>
/// One submitted request, as its consumer sees it: the tokens as they are sampled, and the whole output when it ends.
/// A request that fails (its prompt does not fit the context, the engine failed) or is cancelled ends its token stream
/// with that exception, and <see cref="Completion"/> faults (or is cancelled) with it.
/// </summary>
public sealed class GenerationStream
{
    private readonly ChannelReader<GeneratedToken> _tokens;

    internal GenerationStream(long id, ChannelReader<GeneratedToken> tokens, Task<GenerationOutput> completion, int choice = 0)
    {
        Id = id;
        Choice = choice;
        _tokens = tokens;
        Completion = completion;
    }

    /// <summary>The batcher's number for this request, in submission order.</summary>
    public long Id { get; }

    /// <summary>Which of its request's choices this is (<see cref="ContinuousBatcher.SubmitChoices"/>); 0 for a single one.</summary>
    public int Choice { get; }

    /// <summary>
    /// The prompt's log-probabilities (<see cref="GenerationOutput.PromptLogprobs"/>) when the options asked for them: set
    /// before the first token is streamed, so a consumer that has read a token reads them; null before, or when not asked.
    /// </summary>
    public IReadOnlyList<TokenLogprob?>? PromptLogprobs { get; internal set; }

    /// <summary>The tokens as they are sampled. Read them once, by one consumer (they are not replayed).</summary>
    public IAsyncEnumerable<GeneratedToken> Tokens(CancellationToken cancellationToken = default) => _tokens.ReadAllAsync(cancellationToken);

    /// <summary>The token channel itself, for consumers that poll.</summary>
    public ChannelReader<GeneratedToken> Reader => _tokens;

    /// <summary>Completes when the request ends: its ids, text, finish reason and metrics.</summary>
    public Task<GenerationOutput> Completion { get; }
}
