namespace Tessera.Parallelism;

/// <summary>Sizes and costs of a model, computed from its config before any weight is loaded: what plans are checked and balanced with.</summary>
/// <param name="ModelName">the [Model] class</param>
/// <param name="Layers">L</param>
/// <param name="LayerFlopsPerToken">multiply-adds x 2 of one layer's matrix products, per token (with k of its experts)</param>
/// <param name="LayerWeightBytes">F32 bytes of one layer's weights</param>
/// <param name="EmbeddingWeightBytes">bytes of the first stage's extra weights (embeddings)</param>
/// <param name="HeadFlopsPerToken">the last stage's extra work per token (final norm + head)</param>
/// <param name="HeadWeightBytes">bytes of the last stage's extra weights (a tied head counts 0 extra on a single device)</param>
/// <param name="KvBytesPerTokenPerLayer">keys + values of one token in one layer, F32</param>
/// <param name="ActivationWidth">the residual width sent between stages</param>
/// <param name="VocabSize">V</param>
/// <param name="ContextLength">the most positions a sequence may have</param>
/// <param name="TensorSplits">what tensor parallelism splits, with its size: the tensor degree must divide each ("Heads", 8)</param>
/// <param name="Experts">experts per mixture-of-experts layer (0: a dense model); the expert degree must divide it</param>
/// <param name="ExpertsPerToken">k, the experts each token runs through (top-k routing)</param>
/// <param name="LayerExpertWeightBytes">the part of <paramref name="LayerWeightBytes"/> that is experts (all of them)</param>
/// <param name="LayerWholeWeightBytes">the part of a layer's bytes every tensor rank holds whole (norms, biases after all-reduces, a router)</param>
/// <param name="EmbeddingWholeWeightBytes">the part of the embeddings every tensor rank holds whole (a replicated table)</param>
/// <param name="HeadWholeWeightBytes">the part of the head's bytes every tensor rank holds whole (the final norm)</param>
/// <param name="TiedHeadWeightBytes">the head matrix's bytes when it is the embedding's (tied weights), else 0</param>
/// <param name="KvHeads">key/value heads of the attention (0: none)</param>
/// <param name="ReplicableTensorSplits">
/// what the tensor degree must divide or be a multiple of: key/value heads, which each rank replicates when the degree
/// exceeds them ("KvHeads", 8)
/// </param>
/// <param name="ByLayer">
/// when layers differ (dense layers among sparse ones), each layer's figures; the Layer* figures are then their averages
/// </param>
public sealed record ModelFacts(
    string ModelName, int Layers, double LayerFlopsPerToken, long LayerWeightBytes, long EmbeddingWeightBytes,
    double HeadFlopsPerToken, long HeadWeightBytes, long KvBytesPerTokenPerLayer, int ActivationWidth, int VocabSize, int ContextLength,
    IReadOnlyList<(string What, int Size)> TensorSplits, int Experts = 0, int ExpertsPerToken = 0, long LayerExpertWeightBytes = 0,
    IReadOnlyList<(string What, int Size)>? ReplicableTensorSplits = null,
    long LayerWholeWeightBytes = 0, long EmbeddingWholeWeightBytes = 0, long HeadWholeWeightBytes = 0, long TiedHeadWeightBytes = 0, int KvHeads = 0,
    IReadOnlyList<LayerFacts>? ByLayer = null)
{
    /// <summary>
    /// Facts whose layers differ: each layer's figures from <paramref name="layer"/>, the Layer* figures their averages.
    /// Generated Facts(config) of a model with per-layer kinds call this.
    /// </summary>
    public ModelFacts WithLayers(Func<int, LayerFacts> layer)
    {
        var layers = Enumerable.Range(0, Layers).Select(layer).ToArray();
        if (layers.Length == 0) return this;
        return this with
        {
            // Layers all alike (every layer sparse): one layer's figures say it all.
            ByLayer = layers.All(l => l == layers[0]) ? null : layers,
            LayerFlopsPerToken = layers.Average(l => l.FlopsPerToken),
            LayerWeightBytes = (long)layers.Average(l => (double)l.WeightBytes),
            LayerWholeWeightBytes = (long)layers.Average(l => (double)l.WholeWeightBytes),
            LayerExpertWeightBytes = (long)layers.Average(l => (double)l.ExpertWeightBytes),
        };
    }

    /// <summary><see cref="ReplicableTensorSplits"/>, empty when there are none.</summary>
    public IReadOnlyList<(string What, int Size)> Replicable => ReplicableTensorSplits ?? [];

    /// <summary>The same sizes for the cost model, in parameters: what plans are balanced, checked and advised with.</summary>
    internal Planning.ModelCost Cost => new(
        Layers, LayerWeightBytes / 4.0, LayerWholeWeightBytes / 4.0, LayerExpertWeightBytes / 4.0, Experts, ExpertsPerToken,
        EmbeddingWeightBytes / 4.0, EmbeddingWholeWeightBytes / 4.0, HeadWeightBytes / 4.0, HeadWholeWeightBytes / 4.0, TiedHeadWeightBytes / 4.0,
        LayerFlopsPerToken, HeadFlopsPerToken, KvBytesPerTokenPerLayer / 4.0, KvHeads, ActivationWidth, VocabSize, ContextLength,
        ByLayer?.Select(l => new Planning.LayerCost(l.WeightBytes / 4.0, l.WholeWeightBytes / 4.0, l.ExpertWeightBytes / 4.0, l.FlopsPerToken)).ToArray());

    /// <summary>The sizes a caller of an engine over these facts sees (its KV width: the F32 floats of one token's keys in one layer).</summary>
    public ModelShape Shape => new(ModelName, VocabSize, ContextLength, Layers, ActivationWidth, (int)(KvBytesPerTokenPerLayer / (2 * sizeof(float))));

    /// <summary>Every parameter of the model once (a tied head's matrix counted with the embedding), from its config alone.</summary>
    public long Parameters => (long)Cost.Parameters;
}

/// <summary>One layer's figures, where layers differ.</summary>
/// <param name="FlopsPerToken">2 x multiply-adds of its products per token (k experts of a mixture)</param>
/// <param name="WeightBytes">F32 bytes of its weights</param>
/// <param name="WholeWeightBytes">the part every tensor rank holds whole</param>
/// <param name="ExpertWeightBytes">the part that is experts (all of them)</param>
public readonly record struct LayerFacts(double FlopsPerToken, long WeightBytes, long WholeWeightBytes, long ExpertWeightBytes);
