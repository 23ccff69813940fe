using Tessera.Checkpoints;
using Tessera.Parallelism;

namespace Tessera.Mpi;

/// <summary>
/// This process's rank of a plan run as one process per rank: its place (from its MPI rank, in the in-process
/// engine's layout), its communicators, its program loaded from its own slices, and the keys and values of the
/// sequences it computes. Every rank plans each forward from the same broadcast <see cref="MpiJob"/> with the same
/// <see cref="ForwardSchedule"/> as the in-process engine, then runs its own share.
/// </summary>
internal sealed class MpiRank : IDisposable
{
    /// <summary>Tag of the results of micro-batch i sent to rank 0: 5000 + i (stage links use 1000 + their stage).</summary>
    private const int ResultTag = 5000, LinkTag = 1000;

    private readonly Dictionary<int, SequenceHome> _homes = [];
    private readonly Dictionary<int, KvCache> _caches = [];
    private readonly RequestPartitioner _partitioner;
    private readonly RequestPartitioner _expertPartitioner;
    private readonly MpiCommunicator? _replica;   // the ranks of this replica: its pipeline advances clock by clock
    private readonly MpiStageLink? _next;
    private readonly Checkpoint _checkpoint;

    private MpiRank(ParallelPlan plan, ModelFacts facts, MpiCommunicator world, RankContext context, MpiCommunicator? replica, MpiStageLink? next,
        Checkpoint checkpoint, IRankProgram program)
    {
        Plan = plan;
        Facts = facts;
        World = world;
        Context = context;
        _replica = replica;
        _next = next;
        _checkpoint = checkpoint;
        Program = program;
        _partitioner = new RequestPartitioner(plan.Data);
        _expertPartitioner = new RequestPartitioner(plan.Expert);
    }

    public ParallelPlan Plan { get; }

    public ModelFacts Facts { get; }

    public MpiCommunicator World { get; }

    public RankContext Context { get; }

    public IRankProgram Program { get; }

    /// <summary>"rank 3 (replica 0, stage 1, tensor 1)": the coordinates of the plan's axes that have more than one rank.</summary>
    public static string Describe(ParallelPlan plan, int rank)
    {
        var (data, stage, sequence, expert, tensor) = plan.CoordinatesOf(rank);
        var axes = new List<string>();
        if (plan.Data > 1) axes.Add($"replica {data}");
        if (plan.Pipeline > 1) axes.Add($"stage {stage}");
        if (plan.Sequence > 1) axes.Add($"sequence {sequence}");
        if (plan.Expert > 1) axes.Add($"expert {expert}");
        if (plan.Tensor > 1) axes.Add($"tensor {tensor}");
        return $"rank {rank}" + (axes.Count > 0 ? $" ({string.Join(", ", axes)})" : "");
    }

    /// <summary>
    /// Builds this process's rank: splits the world into its tensor, expert, sequence and replica communicators (every
    /// process calls the splits in the same order: they are collective), links it to its neighbouring stages and loads
    /// its program from its own checkpoint handle (its slices only).
    /// </summary>
    public static MpiRank Load(string checkpointDirectory, ParallelPlan plan, ModelFacts facts, MpiCommunicator world,
        Func<Checkpoint, RankContext, IRankProgram> createRank)
    {
        int rank = world.Rank;
        var (data, stage, sequence, expert, tensor) = plan.CoordinatesOf(rank);
        int p = plan.Pipeline, s = plan.Sequence, e = plan.Expert, t = plan.Tensor;
        // Colors: the coordinates a group's ranks share; keys: the world rank, so a group's ranks keep the plan's order.
        ICollectiveGroup Group(int degree, int color, string name) =>
            degree == 1 ? SingleRankGroup.Instance : new MpiGroup(world.Split(color, rank, $"{name} of rank {rank}"));
        var tensorGroup = Group(t, rank / t, "tensor group");
        var expertGroup = Group(e, ((data * p + stage) * s + sequence) * t + tensor, "expert group");
        var sequenceGroup = Group(s, ((data * p + stage) * e + expert) * t + tensor, "sequence group");
        var replica = p > 1 ? world.Split(data, rank, $"replica {data}") : null;

        int stageStride = s * e * t;
        var previous = stage > 0 ? new MpiStageLink(world, rank - stageStride, LinkTag + stage - 1) : null;
        var next = stage + 1 < p ? new MpiStageLink(world, rank + stageStride, LinkTag + stage) : null;
        var range = StagePartitioner.LayerRanges(plan.ResolveSplit(facts))[stage];
        var context = new RankContext(rank, data, stage, p, range.First, range.End, tensorGroup, previous, next)
        {
            Experts = expertGroup,
            Sequence = sequenceGroup,
        };

        var checkpoint = Checkpoint.Open(checkpointDirectory);
        try
        {
            var program = createRank(checkpoint, context);
            return new MpiRank(plan, facts, world, context, replica, next, checkpoint, program);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Frees the released sequences and plans the job: the same distribution on every rank, as every rank applies the
    /// same broadcast to the same homes.
    /// </summary>
    public ReplicaWork?[] Distribute(MpiJob message)
    {
        foreach (int id in message.Released)
        {
            _homes.Remove(id);
            _caches.Remove(id);
        }
        var job = message.Job!;
        var homes = message.SequenceIds.Select(id => _homes.TryGetValue(id, out var home) ? home : _homes[id] = new SequenceHome()).ToArray();
        return ForwardSchedule.Distribute(Plan, new PipelineSchedule(Plan.Pipeline, Plan.MicroBatches), job, homes, _partitioner, _expertPartitioner);
    }

    /// <summary>
    /// Runs this rank's share of the job (if its replica has any): its sequences' caches, aligned to the job, its walk
    /// through the schedule, then, on a last stage's tensor rank 0 other than rank 0, its logits sent to rank 0.
    /// </summary>
    public void Run(MpiJob message, ReplicaWork?[] replicas)
    {
        var job = message.Job!;
        if (replicas[Context.DataRank] is not { } work) return;
        var local = new Dictionary<int, KvCache>();
        foreach (int s in work.SequencesOfExpertRank[Context.ExpertRank])
        {
            int id = message.SequenceIds[s];
            if (!_caches.TryGetValue(id, out var cache)) _caches[id] = cache = Program.CreateCache();
            ForwardSchedule.Align(cache, job.Starts[s], s);
            local[s] = cache;
        }
        ForwardSchedule.RunRank(Plan, Context, Program, work, job, s => local[s], Facts.VocabSize, () => _replica!.Barrier());
        _next?.Flush();

        if (!Context.IsLastStage || Context.TensorRank != 0 || World.Rank == 0) return;
        for (int i = 0; i < work.MicroBatches.Length; i++)
        {
            int rows = ForwardSchedule.LogitRowsOf(job, work.MicroBatches[i][Context.ExpertRank], Context.SequenceRank);
            World.Send(work.Results[i, Context.ExpertRank, Context.SequenceRank].AsSpan(0, rows * Facts.VocabSize), 0, ResultTag + i);
        }
    }

    /// <summary>
    /// On rank 0, before its own share: posts a receive for every result another rank will send, so that no last stage
    /// waits on rank 0 while rank 0 computes (the results land in the replicas' <see cref="ReplicaWork.Results"/>).
    /// </summary>
    public List<MpiRequest> ReceiveResults(MpiJob message, ReplicaWork?[] replicas)
    {
        var job = message.Job!;
        var requests = new List<MpiRequest>();
        for (int r = 0; r < replicas.Length; r++)
        {
            if (replicas[r] is not { } work) continue;
            for (int i = 0; i < work.MicroBatches.Length; i++)
                for (int x = 0; x < Plan.Expert; x++)
                    for (int q = 0; q < Plan.Sequence; q++)
                    {
                        int producer = Plan.RankOf(r, Plan.Pipeline - 1, q, x, 0);
                        if (producer == World.Rank) continue;
                        int count = ForwardSchedule.LogitRowsOf(job, work.MicroBatches[i][x], q) * Facts.VocabSize;
                        var logits = GC.AllocateUninitializedArray<float>(count, pinned: true);
                        work.Results[i, x, q] = logits;
                        requests.Add(World.StartReceive(logits, count, producer, ResultTag + i));
                    }
        }
        return requests;
    }

    public void Dispose()
    {
        (Program as IDisposable)?.Dispose();
        _checkpoint.Dispose();
    }
}
