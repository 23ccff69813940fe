using Tessera.Generation;

namespace Tessera.Runtime.Tests.Generation;

/// <summary>
/// What a server needs of its batcher: long prompts prefilled in chunks between other sequences' decode steps, a
/// bound on KV-cache memory (requests wait for room, or are refused when they could never fit), a bounded queue, and a
/// failed KV allocation that fails its request alone.
/// </summary>
public sealed class BatcherLimitsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static SamplingOptions Tokens(int count) => new() { MaxTokens = count, StopTokens = [] };

    [Fact]
    public async Task ALongPrompt_IsPrefilledInChunks_WhileAnotherSequenceDecodesEveryStep_AndBothGetWhatTheyWouldAlone()
    {
        var engine = new ToyEngine(context: 256);
        await using var batcher = new ContinuousBatcher(engine, null, new BatcherLimits { PrefillChunkTokens = 16 });
        using var started = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        engine.OnForward = _ =>
        {
            started.Set();
            go.Wait(Timeout);
        };
        var shortPrompt = new[] { 5, 6 };
        var longPrompt = Enumerable.Range(0, 100).Select(i => i * 3 % 250).ToArray();
        var decoding = batcher.Submit(shortPrompt, Tokens(12));
        started.Wait(Timeout); // the short request is in its prefill step
        var chunked = batcher.Submit(longPrompt, Tokens(3));
        go.Set();

        var outputs = await Task.WhenAll(decoding.Completion, chunked.Completion).WaitAsync(Timeout);

        Assert.Equal(engine.Expected(shortPrompt, 12), outputs[0].Tokens);
        Assert.Equal(engine.Expected(longPrompt, 3), outputs[1].Tokens);
        // 100 prompt tokens in chunks of at most 16 (7 steps), each beside one decode row of the short request.
        var chunkSteps = engine.Batches.Where(rows => rows.Length == 2 && rows[1] > 1).ToArray();
        Assert.Equal(7, chunkSteps.Length);
        Assert.All(chunkSteps, rows => Assert.Equal(1, rows[0]));
        Assert.All(engine.Batches, rows => Assert.InRange(rows.Where(r => r > 1).Sum(), 0, 16));
    }

    [Fact]
    public async Task UnderAKvCacheLimit_SequencesRunOnlyAsManyAsFit_AndEveryRequestStillFinishes()
    {
        // The toy model costs 2 x 1 layer x 4 floats x 4 bytes = 32 bytes a position; a context of 32 positions.
        var engine = new ToyEngine(context: 32);
        await using var batcher = new ContinuousBatcher(engine, null, new BatcherLimits { MaxInFlight = 8, KvCacheBytes = 2 * 32 * 32 });
        var prompts = Enumerable.Range(1, 6).Select(n => new[] { n, n + 1, n + 2 }).ToArray();

        var outputs = await Task.WhenAll(prompts.Select(p => batcher.Submit(p, Tokens(5)).Completion)).WaitAsync(Timeout);

        for (int i = 0; i < prompts.Length; i++) Assert.Equal(engine.Expected(prompts[i], 5), outputs[i].Tokens);
        Assert.All(engine.Batches, rows => Assert.InRange(rows.Length, 1, 2));
        Assert.Contains(engine.Batches, rows => rows.Length == 2);
    }

    [Fact]
    public async Task ARequestThatCouldNeverFitTheKvCacheLimit_IsRefusedAtOnce_NamingWhatFits()
    {
        var engine = new ToyEngine(context: 256);
        await using var batcher = new ContinuousBatcher(engine, null, new BatcherLimits { KvCacheBytes = 100 * 32 });

        var refused = Assert.Throws<KvCacheLimitException>(() => batcher.Submit([1, 2, 3], Tokens(200)));

        Assert.Equal(202, refused.Positions);
        Assert.Equal(100, refused.FittingPositions);
        Assert.Contains("lower max_tokens", refused.Message);
        Assert.Equal(98, batcher.MaxNewTokens(3));
        var fitting = await batcher.Submit([1, 2, 3], Tokens(batcher.MaxNewTokens(3))).Completion.WaitAsync(Timeout);
        Assert.Equal(98, fitting.Tokens.Length);
    }

    [Fact]
    public void AKvCacheLimitSmallerThanOneNewCache_IsRefusedWhenTheBatcherIsMade()
    {
        var engine = new ToyEngine(context: 256);

        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new ContinuousBatcher(engine, null, new BatcherLimits { KvCacheBytes = 63 * 32 }));

        Assert.Contains("less than one new cache", refused.Message);
    }

    [Fact]
    public async Task AFullQueue_RefusesTheNextRequest_AndTakesRequestsAgainOnceItDrains()
    {
        var engine = new ToyEngine();
        await using var batcher = new ContinuousBatcher(engine, null, new BatcherLimits { MaxInFlight = 1, MaxQueued = 1 });
        using var running = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        engine.OnForward = _ =>
        {
            running.Set();
            release.Wait(Timeout);
        };
        var first = batcher.Submit([1], Tokens(2));
        running.Wait(Timeout);
        var waiting = batcher.Submit([2], Tokens(2));

        var refused = Assert.Throws<QueueFullException>(() => batcher.Submit([3], Tokens(2)));
        Assert.Equal(1, refused.Waiting);

        release.Set();
        await Task.WhenAll(first.Completion, waiting.Completion).WaitAsync(Timeout);
        var later = await batcher.Submit([3], Tokens(2)).Completion.WaitAsync(Timeout);
        Assert.Equal(engine.Expected([3], 2), later.Tokens);
    }

    [Fact]
    public async Task AKvCacheThatCannotBeAllocated_FailsItsRequestAlone_AndTheBatcherGoesOn()
    {
        var engine = new ToyEngine();
        int caches = 0;
        engine.OnCreateCache = () =>
        {
            if (Interlocked.Increment(ref caches) == 1) throw new OutOfMemoryException("no room for the cache");
        };
        await using var batcher = new ContinuousBatcher(engine);

        var failed = batcher.Submit([1, 2], Tokens(3));
        var error = await Assert.ThrowsAsync<KvCacheAllocationException>(() => failed.Completion.WaitAsync(Timeout));
        Assert.IsType<OutOfMemoryException>(error.InnerException);

        var later = await batcher.Submit([1, 2], Tokens(3)).Completion.WaitAsync(Timeout);
        Assert.Equal(engine.Expected([1, 2], 3), later.Tokens);
    }
}
