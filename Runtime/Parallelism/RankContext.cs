namespace Tessera.Parallelism;

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
/// <remarks>How a rank holds its weights and how many threads its kernels use are not part of it: see <see cref="Cpu.CpuRankOptions"/>.</remarks>
public sealed record RankContext(int Rank, int DataRank, int Stage, int Stages, int FirstLayer, int EndLayer, ICollectiveGroup Tensor, IStageLink? Previous, IStageLink? Next)
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
