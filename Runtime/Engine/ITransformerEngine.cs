namespace Tessera;

/// <summary>
/// A loaded model, ready to run: what every generated engine implements.
/// <code>
/// var engine = LlamaEngine.Load("Models/Checkpoints/tiny-llama");
/// var cache = engine.CreateCache();
/// float[] logits = engine.Forward(TokenBatch.ForSequence(cache, prompt)); // (T, V), rows = batch.LogitRows
/// </code>
/// </summary>
public interface ITransformerEngine
{
    /// <summary>Sizes bound from config.json (or folded at build time).</summary>
    ModelShape Shape { get; }

    /// <summary>A cache sized for one sequence of up to <see cref="ModelShape.ContextLength"/> tokens.</summary>
    KvCache CreateCache();

    /// <summary>Runs the batch's rows, appends their keys and values to the caches and returns the logits of <see cref="TokenBatch.LogitRows"/>, (R, V) row-major.</summary>
    float[] Forward(TokenBatch batch);

    /// <summary>
    /// Makes <paramref name="destination"/> (one of this engine's caches) hold what <paramref name="source"/> holds, so
    /// that a second sequence continues from the first one's prefix without running it again (several choices of one
    /// prompt). Returns false when this engine cannot copy its caches; the caller then runs the prefix again. By default
    /// whole caches in host memory are copied (<see cref="KvCache.TryCopyFrom"/>); handles (a parallel or GPU engine:
    /// the keys and values live on its devices) and shards are not.
    /// </summary>
    bool TryCopyCache(KvCache source, KvCache destination) => destination.TryCopyFrom(source);

    /// <summary>Bytes of weights held.</summary>
    long WeightBytes { get; }
}
