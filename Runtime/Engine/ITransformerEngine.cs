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

    /// <summary>Bytes of weights held.</summary>
    long WeightBytes { get; }
}
