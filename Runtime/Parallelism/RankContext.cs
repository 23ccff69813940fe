namespace Tessera.Parallelism;

/// <summary>
/// The collectives among the ranks of one group: a tensor group (same data replica, pipeline stage and expert rank:
/// all-reduce after row-parallel products, all-gather of a vocab-sharded head) or an expert group (same replica, stage
/// and tensor rank: the all-to-all that sends tokens to their experts and back). Every rank of the group calls each
/// collective in the same order, from its own device's worker.
/// </summary>
public interface ICollectiveGroup
{
    /// <summary>This rank's index in the group, 0 .. Size-1.</summary>
    int Rank { get; }

    int Size { get; }

    /// <summary>data[0..count) = the element-wise sum of every rank's data[0..count) (after a row-parallel matmul).</summary>
    void AllReduceSum(float[] data, int count);

    /// <summary>
    /// Each rank holds local (rows, localWidth); afterwards full (rows, localWidth * Size) holds rank r's columns at
    /// [r * localWidth, (r + 1) * localWidth) of every row (a vocab-sharded head's logits).
    /// </summary>
    void AllGatherColumns(float[] local, int rows, int localWidth, float[] full);

    /// <summary>
    /// A rendezvous: waits for every rank of the group and returns what each passed, in rank order. Device collectives
    /// are built on it: ranks exchange handles to device buffers, then read their peers' memory directly.
    /// </summary>
    /// <param name="contribution">this rank's part (null for a plain barrier)</param>
    /// <param name="bytes">bytes this rank moves in the collective the rendezvous serves, for the communication report</param>
    IReadOnlyList<object?> Exchange(object? contribution, long bytes = 0);

    /// <summary>
    /// All-to-all with a block per pair of ranks (MPI's alltoallv): this rank passes <paramref name="send"/>[r], the
    /// floats for rank r (any length, possibly empty, its own block included), and gets back the blocks every rank
    /// passed for it, in source rank order. How expert parallelism dispatches tokens to their experts' owners and
    /// returns the results.
    /// </summary>
    float[][] AllToAll(float[][] send);

    /// <summary>Bytes this rank has sent through the group (for the communication report).</summary>
    long BytesSent { get; }
}

/// <summary>A point-to-point link between neighbouring pipeline stages (same data replica, same tensor rank).</summary>
public interface IStageLink
{
    /// <summary>Sends data[0..count) to the other end. Returns when the data has been handed over (the caller may reuse the buffer).</summary>
    void Send(float[] data, int count);

    /// <summary>Receives the next message; the result holds at least <paramref name="count"/> floats.</summary>
    float[] Receive(int count);

    /// <summary>
    /// Hands <paramref name="message"/> itself (not a copy) to the other end: how device stages pass a device buffer
    /// they will not touch again until the receiver gives it back.
    /// </summary>
    /// <param name="bytes">the bytes the message stands for, for the communication report</param>
    void SendMessage(object message, long bytes);

    /// <summary>Receives the next message sent with <see cref="SendMessage"/> (or a float[] sent with <see cref="Send"/>).</summary>
    object ReceiveMessage();

    long BytesSent { get; }
}

/// <summary>The group of one rank: a single rank, collectives are no-ops.</summary>
public sealed class SingleRankGroup : ICollectiveGroup
{
    public static SingleRankGroup Instance { get; } = new();

    public int Rank => 0;

    public int Size => 1;

    public long BytesSent => 0;

    public void AllReduceSum(float[] data, int count) { }

    public IReadOnlyList<object?> Exchange(object? contribution, long bytes = 0) => [contribution];

    public float[][] AllToAll(float[][] send)
    {
        ArgumentNullException.ThrowIfNull(send);
        if (send.Length != 1) throw new ArgumentException($"An all-to-all passes one block per rank: 1, not {send.Length}.", nameof(send));
        return [(float[])send[0].Clone()];
    }

    public void AllGatherColumns(float[] local, int rows, int localWidth, float[] full) =>
        Array.Copy(local, full, (long)rows * localWidth);
}

/// <summary>
/// Where one rank sits in a plan and what it owns: its tensor shard, its contiguous block of layers, its experts, its
/// tokens, its links. Rank layout (as TensorRT-LLM's Mapping, with the sequence and expert axes between stage and tensor):
/// rank = data * (P * S * E * T) + stage * (S * E * T) + sequence * (E * T) + expert * T + tensor, tensor varying
/// fastest, so a tensor group's ranks are neighbours, an expert group's are T apart and a sequence group's E * T.
/// </summary>
/// <param name="Rank">global rank</param>
/// <param name="DataRank">replica index</param>
/// <param name="Stage">pipeline stage index</param>
/// <param name="Stages">pipeline degree</param>
/// <param name="FirstLayer">first layer of this stage</param>
/// <param name="EndLayer">one past its last layer; -1 means "every layer" (a single device)</param>
/// <param name="Tensor">the tensor group (its Rank and Size are this rank's tensor index and degree)</param>
/// <param name="Previous">link from the previous stage (null on the first)</param>
/// <param name="Next">link to the next stage (null on the last)</param>
/// <param name="Precision">how this rank holds its matrix weights</param>
public sealed record RankContext(int Rank, int DataRank, int Stage, int Stages, int FirstLayer, int EndLayer, ICollectiveGroup Tensor, IStageLink? Previous, IStageLink? Next,
    Cpu.WeightPrecision Precision = Cpu.WeightPrecision.F32)
{
    /// <summary>One device holding the whole model.</summary>
    public static RankContext Single { get; } = new(0, 0, 0, 1, 0, -1, SingleRankGroup.Instance, null, null);

    public bool IsFirstStage => Stage == 0;

    public bool IsLastStage => Stage == Stages - 1;

    /// <summary>True for a rank that holds the whole model and every token: a plan of one device.</summary>
    public bool IsWholeModel => Stages == 1 && TensorDegree == 1 && ExpertDegree == 1 && SequenceDegree == 1;

    public int TensorRank => Tensor.Rank;

    public int TensorDegree => Tensor.Size;

    /// <summary>
    /// The expert group: the ranks of this replica and stage with this tensor rank, one per expert rank. Each holds
    /// 1/Size of every mixture-of-experts layer's experts and runs attention for its own sequences; tokens travel to
    /// their experts' owners and back through its all-to-all. A single rank when the plan has no expert parallelism.
    /// </summary>
    public ICollectiveGroup Experts { get; init; } = SingleRankGroup.Instance;

    public int ExpertRank => Experts.Rank;

    public int ExpertDegree => Experts.Size;

    /// <summary>
    /// The sequence group: the ranks of this replica and stage with this expert and tensor rank, one per sequence rank.
    /// Each computes its own tokens of every sequence and keeps their keys and values; attention gathers the queries
    /// and merges partial results through it. A single rank when the plan has no sequence parallelism.
    /// </summary>
    public ICollectiveGroup Sequence { get; init; } = SingleRankGroup.Instance;

    public int SequenceRank => Sequence.Rank;

    public int SequenceDegree => Sequence.Size;
}

/// <summary>
/// What one rank runs: generated by the Tessera compiler for every [Model] (its shard of every tensor, its layers,
/// the collectives after row-parallel products, the send/recv at its stage's boundaries).
/// </summary>
public interface IRankProgram
{
    RankContext Context { get; }

    /// <summary>Bytes of weights this rank holds (its slices only).</summary>
    long WeightBytes { get; }

    /// <summary>Bytes of its activation workspace.</summary>
    long WorkspaceBytes { get; }

    /// <summary>A rank-local KV cache for one sequence: this stage's layers, this rank's KV heads.</summary>
    KvCache CreateCache();

    /// <summary>
    /// Runs this rank's part of the forward over <paramref name="batch"/> (whose caches are this rank's): receives the
    /// activations from the previous stage or embeds the tokens, runs its layers, and sends to the next stage or
    /// computes the logits. Returns the logits (rows = batch.LogitRows) on the last stage, null elsewhere. Commits the
    /// batch (the local caches grow).
    /// </summary>
    float[]? RunStage(TokenBatch batch);
}

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
public sealed record ModelFacts(
    string ModelName, int Layers, double LayerFlopsPerToken, long LayerWeightBytes, long EmbeddingWeightBytes,
    double HeadFlopsPerToken, long HeadWeightBytes, long KvBytesPerTokenPerLayer, int ActivationWidth, int VocabSize, int ContextLength,
    IReadOnlyList<(string What, int Size)> TensorSplits, int Experts = 0, int ExpertsPerToken = 0, long LayerExpertWeightBytes = 0,
    IReadOnlyList<(string What, int Size)>? ReplicableTensorSplits = null,
    long LayerWholeWeightBytes = 0, long EmbeddingWholeWeightBytes = 0, long HeadWholeWeightBytes = 0, long TiedHeadWeightBytes = 0, int KvHeads = 0)
{
    /// <summary><see cref="ReplicableTensorSplits"/>, empty when there are none.</summary>
    public IReadOnlyList<(string What, int Size)> Replicable => ReplicableTensorSplits ?? [];

    /// <summary>The same sizes for the cost model, in parameters: what plans are balanced, checked and advised with.</summary>
    internal Planning.ModelCost Cost => new(
        Layers, LayerWeightBytes / 4.0, LayerWholeWeightBytes / 4.0, LayerExpertWeightBytes / 4.0, Experts, ExpertsPerToken,
        EmbeddingWeightBytes / 4.0, EmbeddingWholeWeightBytes / 4.0, HeadWeightBytes / 4.0, HeadWholeWeightBytes / 4.0, TiedHeadWeightBytes / 4.0,
        LayerFlopsPerToken, HeadFlopsPerToken, KvBytesPerTokenPerLayer / 4.0, KvHeads, ActivationWidth, VocabSize, ContextLength);

    /// <summary>The sizes a caller of an engine over these facts sees (its KV width: the F32 floats of one token's keys in one layer).</summary>
    public ModelShape Shape => new(ModelName, VocabSize, ContextLength, Layers, ActivationWidth, (int)(KvBytesPerTokenPerLayer / (2 * sizeof(float))));

    /// <summary>Every parameter of the model once (a tied head's matrix counted with the embedding), from its config alone.</summary>
    public long Parameters => (long)Cost.Parameters;
}
