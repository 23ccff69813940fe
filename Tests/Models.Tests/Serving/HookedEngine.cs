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

    public float[] Forward(TokenBatch batch)
    {
        Interlocked.Increment(ref Forwards);
        OnForward?.Invoke(batch);
        return inner.Forward(batch);
    }

    public static HookedEngine TinyLlama() => new(EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama)));
}
