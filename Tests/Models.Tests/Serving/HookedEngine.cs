namespace Tessera.Models.Tests.Serving;

/// <summary>A real engine with hooks where tests slow it down, hold it, or make it fail as a device would.</summary>
internal sealed class HookedEngine(ITransformerEngine inner) : ITransformerEngine
{
    public int Forwards;

    /// <summary>Runs before each forward (sleep, wait, throw).</summary>
    public Action<TokenBatch>? OnForward { get; set; }

    /// <summary>Runs before each cache is made (throw, as a failed allocation would).</summary>
    public Action? OnCreateCache { get; set; }

    /// <summary>The shape the engine claims (e.g. a longer context, for checks made before anything runs).</summary>
    public ModelShape Shape { get; init; } = inner.Shape;

    public long WeightBytes => inner.WeightBytes;

    public KvCache CreateCache()
    {
        OnCreateCache?.Invoke();
        return inner.CreateCache();
    }

    public bool TryCopyCache(KvCache source, KvCache destination) => inner.TryCopyCache(source, destination);

    public float[] Forward(TokenBatch batch)
    {
        Interlocked.Increment(ref Forwards);
        OnForward?.Invoke(batch);
        return inner.Forward(batch);
    }

    public static HookedEngine TinyLlama() => new(EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama)));

    /// <summary>
    /// The engine, holding the first forward after it has been idle for a moment, so that the requests a client sends
    /// together have all reached the batcher before it steps. A tiny model answers a request in milliseconds: under
    /// the parallel load of the whole test suite the first request of a burst could finish before the next one
    /// arrived, and nothing would be batched (what the tests that count batched steps check).
    /// </summary>
    public static HookedEngine GatheringBursts(ITransformerEngine inner)
    {
        var last = System.Diagnostics.Stopwatch.StartNew();
        var engine = new HookedEngine(inner);
        engine.OnForward = _ =>
        {
            if (last.Elapsed > TimeSpan.FromMilliseconds(50)) Thread.Sleep(200);
            last.Restart();
        };
        return engine;
    }

    /// <summary>
    /// Like <see cref="GatheringBursts(ITransformerEngine)"/>, but the first forward after an idle moment waits (up to
    /// 10 s) until <paramref name="gathered"/> says the burst is all there: on a loaded machine the requests of one
    /// burst can arrive further apart than any fixed pause.
    /// </summary>
    public static HookedEngine GatheringBursts(ITransformerEngine inner, Func<bool> gathered)
    {
        var last = System.Diagnostics.Stopwatch.StartNew();
        var engine = new HookedEngine(inner);
        engine.OnForward = _ =>
        {
            if (last.Elapsed > TimeSpan.FromMilliseconds(50)) SpinWait.SpinUntil(gathered, TimeSpan.FromSeconds(10));
            last.Restart();
        };
        return engine;
    }
}
