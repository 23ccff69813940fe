using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Tessera.Checkpoints;

namespace Tessera.Parallelism;

/// <summary>
/// Runs a model under a <see cref="ParallelPlan"/> on D * P * S * E * T virtual CPU devices: one generated
/// <see cref="IRankProgram"/> per device, data-parallel replicas side by side, each replica a GPipe pipeline of stages,
/// each stage S sequence ranks (each computing its share of every sequence's tokens) of E expert ranks (each holding
/// 1/E of the experts and running the dense parts for its own sequences) of T tensor-parallel ranks. To a caller it is
/// one engine: same <see cref="Forward"/>, same logits, same caches.
/// </summary>
/// <remarks>
/// Layout (as TensorRT-LLM's Mapping): rank = data * (P * S * E * T) + stage * (S * E * T) + sequence * (E * T) +
/// expert * T + tensor, and device i runs rank i. The caller's caches are handles (<see cref="KvCache.CreateHandle"/>); the keys and values live on the
/// devices, one rank-local cache per handle and rank, created by the program on its own device.
/// </remarks>
public sealed partial class ParallelEngine : ITransformerEngine, Experts.IExpertRouted, IDisposable
{
    private readonly Rank[] _ranks;
    private readonly CpuDevice[] _devices;
    private readonly InProcessGroup[] _groups;          // tensor groups, [((data * P + stage) * S + sequence) * E + expert]
    private readonly InProcessGroup[] _expertGroups;    // expert groups, [((data * P + stage) * S + sequence) * T + tensor]
    private readonly InProcessGroup[] _sequenceGroups;  // sequence groups, [((data * P + stage) * E + expert) * T + tensor]
    private readonly InProcessStageLink[] _links;       // every stage boundary of every (data, sequence, expert, tensor) chain
    private readonly AbortableBarrier[] _clockBarriers; // [data]: the stages of a replica advance clock by clock
    private readonly RequestPartitioner _partitioner;
    private readonly RequestPartitioner _expertPartitioner; // a replica's sequences over its expert ranks
    private readonly ConditionalWeakTable<KvCache, HandleState> _handles = new();
    private readonly object _forwardGate = new();
    private RankFailedException? _failure;
    private int _disposed;

    private ParallelEngine(ParallelPlan plan, ModelFacts facts, int[] split, bool splitBalanced)
    {
        Plan = plan;
        Facts = facts;
        LayerSplit = split;
        SplitWasBalanced = splitBalanced;
        Schedule = new PipelineSchedule(plan.Pipeline, plan.MicroBatches);
        _partitioner = new RequestPartitioner(plan.Data);
        _expertPartitioner = new RequestPartitioner(plan.Expert);
        int d = plan.Data, p = plan.Pipeline, sp = plan.Sequence, x = plan.Expert, t = plan.Tensor;
        var ranges = StagePartitioner.LayerRanges(split);

        _devices = Enumerable.Range(0, plan.DeviceCount).Select(i => new CpuDevice(i)).ToArray();
        // Each device's kernels get its share of the cores (at least one), as if each were its own processor.
        int share = Math.Max(1, Environment.ProcessorCount / _devices.Length);
        Task.WaitAll(_devices.Select(d => d.Run(() => Cpu.CpuKernels.ThreadsOfThisThread = share)).ToArray());
        // Groups are indexed by the coordinates they do not vary: replica, stage, then the other two of (sequence, expert, tensor).
        _groups = Enumerable.Range(0, d * p * sp * x).Select(_ => new InProcessGroup(t)).ToArray();
        _expertGroups = Enumerable.Range(0, d * p * sp * t).Select(_ => new InProcessGroup(x)).ToArray();
        _sequenceGroups = Enumerable.Range(0, d * p * x * t).Select(_ => new InProcessGroup(sp)).ToArray();
        _clockBarriers = Enumerable.Range(0, d).Select(_ => new AbortableBarrier(p * sp * x * t)).ToArray();
        // A link holds a whole forward's micro-batches, so a stage that runs ahead never waits on a slow consumer's queue.
        int capacity = Math.Max(2, plan.MicroBatches);
        var links = new InProcessStageLink?[d, sp, x, t, Math.Max(0, p - 1)];
        var allLinks = new List<InProcessStageLink>();
        for (int data = 0; data < d; data++)
            for (int q = 0; q < sp; q++)
                for (int expert = 0; expert < x; expert++)
                    for (int tensor = 0; tensor < t; tensor++)
                        for (int j = 0; j + 1 < p; j++)
                        {
                            string chain = $"d{data}" + (sp > 1 ? $" s{q}" : "") + (x > 1 ? $" e{expert}" : "") + $" t{tensor}";
                            var link = new InProcessStageLink(capacity, $"{chain}: stage {j} -> {j + 1}");
                            links[data, q, expert, tensor, j] = link;
                            allLinks.Add(link);
                        }
        _links = allLinks.ToArray();

        _ranks = new Rank[plan.DeviceCount];
        for (int data = 0; data < d; data++)
            for (int j = 0; j < p; j++)
                for (int q = 0; q < sp; q++)
                    for (int expert = 0; expert < x; expert++)
                        for (int tensor = 0; tensor < t; tensor++)
                        {
                            int stage = data * p + j;
                            int rank = ((stage * sp + q) * x + expert) * t + tensor;
                            var context = new RankContext(rank, data, j, p, ranges[j].First, ranges[j].End, _groups[(stage * sp + q) * x + expert][tensor],
                                j > 0 ? links[data, q, expert, tensor, j - 1] : null, j + 1 < p ? links[data, q, expert, tensor, j] : null, plan.Precision)
                            {
                                Experts = _expertGroups[(stage * sp + q) * t + tensor][expert],
                                Sequence = _sequenceGroups[(stage * x + expert) * t + tensor][q],
                            };
                            _ranks[rank] = new Rank(_devices[rank], context);
                        }
    }

    /// <summary>
    /// Reads the checkpoint's config, checks the plan against the model's facts (a <see cref="PlanException"/> lists
    /// every problem), picks the layer split (hand-given or balanced), starts D * P * T devices and loads every rank's
    /// program on its own device, all in parallel, each from its own <see cref="Checkpoint"/>.
    /// </summary>
    /// <param name="createRank">builds the program of one rank (the compiler generates it) from its checkpoint and context</param>
    /// <param name="facts">the model's sizes and costs from its config (the compiler generates this too)</param>
    public static ParallelEngine Create(string checkpointDirectory, ParallelPlan plan,
        Func<Checkpoint, RankContext, IRankProgram> createRank, Func<ModelConfig, ModelFacts> facts)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ModelConfig config;
        using (var checkpoint = Checkpoint.Open(checkpointDirectory)) config = checkpoint.Config;
        var modelFacts = facts(config);
        plan.ThrowIfInvalid(modelFacts);
        var engine = new ParallelEngine(plan, modelFacts, plan.ResolveSplit(modelFacts), plan.LayersPerStage is null);
        try
        {
            engine.Load(checkpointDirectory, createRank);
        }
        catch
        {
            engine.Dispose();
            throw;
        }
        return engine;
    }

    public ParallelPlan Plan { get; }

    public ModelFacts Facts { get; }

    /// <summary>Layers per stage (hand-given or balanced).</summary>
    public IReadOnlyList<int> LayerSplit { get; }

    /// <summary>True when <see cref="LayerSplit"/> came from <see cref="StagePartitioner.Balance"/>.</summary>
    public bool SplitWasBalanced { get; }

    /// <summary>The schedule of a full forward (every replica with at least <see cref="ParallelPlan.MicroBatches"/> sequences).</summary>
    public PipelineSchedule Schedule { get; }

    /// <summary>The devices, device i running rank i, each with its memory.</summary>
    public IReadOnlyList<CpuDevice> Devices => _devices;

    /// <summary>Where each rank sits, by rank.</summary>
    public IReadOnlyList<RankContext> Ranks => _ranks.Select(r => r.Context).ToArray();

    /// <summary>The loaded programs, by rank.</summary>
    public IReadOnlyList<IRankProgram> Programs => _ranks.Select(r => r.Program!).ToArray();

    /// <summary>What happened in the last forward (also after a failed one), or null before the first.</summary>
    public ScheduleTrace? LastTrace { get; private set; }

    /// <summary>
    /// Test hook: called on a device's worker before each step with (device, clock, micro-batch); its time counts as
    /// the step's. Tests sleep here to make the overlap of stages observable.
    /// </summary>
    public Action<int, int, int>? OnStep { get; set; }

    public ModelShape Shape => new(Facts.ModelName, Facts.VocabSize, Facts.ContextLength, Facts.Layers, Facts.ActivationWidth,
        (int)(Facts.KvBytesPerTokenPerLayer / (2 * sizeof(float))));

    /// <summary>Bytes of weights over all devices (replicas count once each: they really are held D times).</summary>
    public long WeightBytes => _devices.Sum(d => d.Memory.Weights);

    /// <summary>Bytes device <paramref name="device"/> has sent so far: to the next stage and through its tensor, expert and sequence groups.</summary>
    public long BytesSent(int device)
    {
        var context = _ranks[device].Context;
        return (context.Next?.BytesSent ?? 0) + context.Tensor.BytesSent + context.Experts.BytesSent + context.Sequence.BytesSent;
    }

    /// <summary>
    /// Where the routers sent the tokens, summed over the ranks (each replica, stage and expert rank routes its own
    /// tokens; the tensor ranks of a group route the same ones, so only tensor rank 0 counts). Empty for a dense model.
    /// </summary>
    public Experts.ExpertLoad ExpertLoad
    {
        get
        {
            var loads = _ranks.Where(r => r.Context.TensorRank == 0).Select(r => r.Program).OfType<Experts.IExpertRouted>().Select(p => p.ExpertLoad).ToList();
            var total = new Experts.ExpertLoad(loads.Count == 0 ? 0 : loads[0].Layers, Math.Max(1, Facts.Experts));
            foreach (var load in loads) total.Add(load);
            return total;
        }
    }

    /// <summary><see cref="BytesSent(int)"/> of every device.</summary>
    public IReadOnlyList<long> BytesSentPerDevice => Enumerable.Range(0, _devices.Length).Select(BytesSent).ToArray();

    /// <summary>A handle: it tracks the sequence's length; each rank keeps the sequence's keys and values for its layers and heads.</summary>
    public KvCache CreateCache()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var handle = KvCache.CreateHandle(Facts.ContextLength);
        _handles.Add(handle, new HandleState());
        return handle;
    }

    /// <summary>
    /// Runs the batch: its sequences are spread over the replicas, each replica's share is cut into micro-batches and
    /// driven through its stages by the GPipe schedule, and the logits come back in the caller's row order
    /// (rows = batch.LogitRows), as a single-device engine would return them. Then the batch is committed.
    /// </summary>
    /// <exception cref="RankFailedException">a rank threw; the other ranks were stopped and the engine can run again</exception>
    public float[] Forward(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        lock (_forwardGate) return ForwardLocked(batch);
    }

    private float[] ForwardLocked(TokenBatch batch)
    {
        int n = batch.Caches.Length;
        var states = new HandleState[n];
        for (int s = 0; s < n; s++)
            if (!_handles.TryGetValue(batch.Caches[s], out states[s]!))
                throw new ArgumentException($"The cache of sequence {s} was not made by this engine's CreateCache(): a parallel engine keeps the keys and values on its devices, behind its own handles.", nameof(batch));

        // (a) Sequences to replicas. A sequence with cached positions must go back where its keys and values are.
        var pinned = Enumerable.Range(0, n).Select(s => states[s].Replica >= 0 && batch.Caches[s].Length > 0 ? states[s].Replica : -1).ToArray();
        var partition = _partitioner.Partition(pinned);
        for (int s = 0; s < n; s++) states[s].Replica = partition.Locate(s).Replica;

        var tokens = new List<int>[n];
        for (int s = 0; s < n; s++) tokens[s] = [];
        for (int row = 0; row < batch.Rows; row++) tokens[batch.SequenceOfRow[row]].Add(batch.Tokens[row]);
        var logitRows = new int[n];
        foreach (int row in batch.LogitRows) logitRows[batch.SequenceOfRow[row]]++;
        var firstLogitRow = new int[n];
        for (int s = 1; s < n; s++) firstLogitRow[s] = firstLogitRow[s - 1] + logitRows[s - 1];
        // Under sequence parallelism each new token has a sequence rank, which computes it and keeps its keys and values.
        var placement = tokens.Select((t, s) => SequencePlacement.Ranks(batch.Caches[s].Length, t.Count, Plan.Sequence)).ToArray();
        var job = new ForwardJob(tokens.Select(t => t.ToArray()).ToArray(), !batch.AllLogitRows, batch.Caches,
            batch.Caches.Select(c => c.Length).ToArray(), placement);

        // (b) Per replica: its sequences over its expert ranks (each runs the dense parts for its own sequences; a sequence
        // with cached positions goes back to the rank holding them), then contiguous micro-batches of each expert rank's
        // sequences, as even as possible (micro-batch i of the replica is the i-th part of every expert rank's share; a
        // part may be empty: that rank still takes part in the all-to-alls); (c) the replica's schedule.
        var replicas = new ReplicaWork?[Plan.Data];
        for (int r = 0; r < Plan.Data; r++)
        {
            var sequences = partition.SequencesOfReplica[r];
            if (sequences.Length == 0) continue;
            var pinnedExpert = sequences.Select(s => states[s].ExpertRank >= 0 && batch.Caches[s].Length > 0 ? states[s].ExpertRank : -1).ToArray();
            var ofExpertRank = _expertPartitioner.Partition(pinnedExpert).SequencesOfReplica.Select(part => part.Select(i => sequences[i]).ToArray()).ToArray();
            for (int x = 0; x < ofExpertRank.Length; x++)
                foreach (int s in ofExpertRank[x]) states[s].ExpertRank = x;
            int m = Math.Min(Plan.MicroBatches, ofExpertRank.Max(part => part.Length));
            var microBatches = new int[m][][];
            for (int i = 0; i < m; i++) microBatches[i] = new int[ofExpertRank.Length][];
            for (int x = 0; x < ofExpertRank.Length; x++)
            {
                var sizes = RequestPartitioner.EvenSizes(ofExpertRank[x].Length, m);
                for (int i = 0, next = 0; i < m; next += sizes[i], i++) microBatches[i][x] = ofExpertRank[x][next..(next + sizes[i])];
            }
            replicas[r] = new ReplicaWork(ofExpertRank, microBatches, new PipelineSchedule(Plan.Pipeline, m), _clockBarriers[r], Plan.Sequence);
        }

        var trace = new ScheduleTrace(_ranks.Select(rank => new TraceLane(rank.Index, rank.Device.Name, rank.Context.DataRank,
            rank.Context.Stage, rank.Context.TensorRank, replicas[rank.Context.DataRank]?.Schedule.Clocks ?? 0)).ToArray());
        _failure = null;
        var tasks = _ranks.Where(rank => replicas[rank.Context.DataRank] is not null)
            .Select(rank => rank.Device.Run(() => RunRank(rank, replicas[rank.Context.DataRank]!, job, trace))).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException)
        {
            // Every rank has stopped (the failing one aborted the transports the others waited on): reopen them for the next forward.
            LastTrace = trace;
            ResetTransports();
            if (_failure is { } failure) throw failure;
            var first = tasks.First(t => t.IsFaulted).Exception!.InnerExceptions[0];
            ExceptionDispatchInfo.Throw(first);
            throw;
        }

        // (d) Logits back in the caller's row order.
        int vocab = Facts.VocabSize;
        var output = new float[(long)batch.LogitRows.Length * vocab];
        foreach (var replica in replicas)
        {
            if (replica is null) continue;
            for (int i = 0; i < replica.MicroBatches.Length; i++)
                for (int x = 0; x < replica.MicroBatches[i].Length; x++)
                    for (int q = 0; q < Plan.Sequence; q++)
                    {
                        // Sequence rank q's logit rows: its tokens that want logits, sequence after sequence, in token order.
                        var logits = replica.Results[i, x, q]!;
                        long offset = 0;
                        foreach (int s in replica.MicroBatches[i][x])
                        {
                            int count = job.Tokens[s].Length;
                            for (int t = 0; t < count; t++)
                            {
                                if (job.Placement[s][t] != q || (job.LastLogitsOnly && t != count - 1)) continue;
                                Array.Copy(logits, offset, output, (long)(firstLogitRow[s] + (job.LastLogitsOnly ? 0 : t)) * vocab, vocab);
                                offset += vocab;
                            }
                        }
                    }
        }
        batch.Commit();
        foreach (var rank in _ranks) rank.Device.Memory.SetActivations(rank.Program!.WorkspaceBytes);
        LastTrace = trace;
        return output;
    }

    /// <summary>One rank's share of a forward, on its device: walk the replica's clocks, run a step where the schedule says so.</summary>
    private void RunRank(Rank rank, ReplicaWork work, ForwardJob job, ScheduleTrace trace)
    {
        var context = rank.Context;
        int? clock = null, microBatch = null;
        try
        {
            // The handles are the truth: a handle that was truncated or reset rewinds this rank's caches with it.
            var local = new Dictionary<int, KvCache>();
            foreach (int s in work.SequencesOfExpertRank[context.ExpertRank])
            {
                var handle = job.Handles[s];
                var cache = rank.Local.GetValue(handle, _ => NewLocalCache(rank));
                if (cache.IsShard)
                {
                    // A shard holds some of the positions: those the handle no longer has go.
                    cache.RewindTo(handle.Length);
                }
                else if (cache.Length > handle.Length) cache.Truncate(handle.Length);
                else if (cache.Length < handle.Length)
                    throw new InvalidOperationException(
                        $"the rank-local cache of sequence {s} holds {cache.Length} positions but its handle {handle.Length}: did the rank program commit its batch?");
                local[s] = cache;
            }

            for (int c = 0; c < work.Schedule.Clocks; c++)
            {
                clock = c;
                microBatch = work.Schedule.MicroBatchAt(context.Stage, c);
                if (microBatch is int i)
                {
                    var sequences = work.MicroBatches[i][context.ExpertRank];
                    var start = trace.Now;
                    OnStep?.Invoke(rank.Index, c, i);
                    var localBatch = Plan.Sequence == 1
                        ? TokenBatch.ForSequences(sequences.Select(s => local[s]).ToArray(), sequences.Select(s => job.Tokens[s]).ToArray(), job.LastLogitsOnly)
                        : job.ShardOf(sequences, context.SequenceRank, local);
                    var logits = rank.Program!.RunStage(localBatch);
                    foreach (int s in sequences) AccountKvGrowth(rank, local[s]);
                    trace.Record(new TraceStep(rank.Index, context.DataRank, context.Stage, context.TensorRank, c, i, start, trace.Now));
                    if (context.IsLastStage && context.TensorRank == 0)
                    {
                        long expected = (long)localBatch.LogitRows.Length * Facts.VocabSize;
                        if (logits is null || logits.LongLength < expected)
                            throw new InvalidOperationException($"the last stage returned {(logits is null ? "no logits" : $"{logits.Length} floats")}; expected {expected} ({localBatch.LogitRows.Length} rows x vocab {Facts.VocabSize}).");
                        work.Results[i, context.ExpertRank, context.SequenceRank] = logits;
                    }
                }
                // Clock by clock, as GPipe's schedule is drawn: what a stage receives at clock c was sent at c - 1, so a
                // step's time is its own work, not a wait, and the trace shows exactly the table.
                if (Plan.Pipeline > 1) work.Clock.SignalAndWait();
            }
        }
        catch (Exception e) when (e is not ParallelAbortedException)
        {
            Fail(new RankFailedException(rank.Device.Name, context.DataRank, context.Stage, context.TensorRank, clock, microBatch, e));
            throw;
        }
    }

    private static KvCache NewLocalCache(Rank rank)
    {
        var cache = rank.Program!.CreateCache();
        rank.Device.Memory.AddKvCache(cache.Bytes);
        rank.KvAccounted.Add(cache, new StrongBox<long>(cache.Bytes));
        return cache;
    }

    /// <summary>A shard grows with use: the device's ledger follows.</summary>
    private static void AccountKvGrowth(Rank rank, KvCache cache)
    {
        var accounted = rank.KvAccounted.GetValue(cache, c => new StrongBox<long>(0));
        long bytes = cache.Bytes;
        if (bytes == accounted.Value) return;
        rank.Device.Memory.AddKvCache(bytes - accounted.Value);
        accounted.Value = bytes;
    }

    /// <summary>The first failure wins; it stops every transport so that no rank stays blocked waiting for the failed one.</summary>
    private void Fail(RankFailedException failure)
    {
        if (Interlocked.CompareExchange(ref _failure, failure, null) is not null) return;
        foreach (var g in _groups.Concat(_expertGroups).Concat(_sequenceGroups)) g.Abort(failure);
        foreach (var l in _links) l.Abort(failure);
        foreach (var b in _clockBarriers) b.Abort(failure);
    }

    private void ResetTransports()
    {
        foreach (var g in _groups.Concat(_expertGroups).Concat(_sequenceGroups)) g.Reset();
        foreach (var l in _links) l.Reset();
        foreach (var b in _clockBarriers) b.Reset();
    }

    private void Load(string checkpointDirectory, Func<Checkpoint, RankContext, IRankProgram> createRank)
    {
        var tasks = _ranks.Select(rank => rank.Device.Run(() =>
        {
            rank.Checkpoint = Checkpoint.Open(checkpointDirectory);
            var program = createRank(rank.Checkpoint, rank.Context);
            rank.Program = program;
            if (program.Context.Rank != rank.Context.Rank || program.Context.Stage != rank.Context.Stage || program.Context.TensorRank != rank.Context.TensorRank)
                throw new InvalidOperationException($"{rank.Device.Name}: the program was built for rank {program.Context.Rank}, not {rank.Context.Rank}.");
            rank.Device.Memory.AddWeights(program.WeightBytes);
            rank.Device.Memory.AddActivations(program.WorkspaceBytes);
        })).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch (AggregateException)
        {
            // The lowest failing rank's own exception (a CheckpointException names the tensor): clearer than an aggregate.
            ExceptionDispatchInfo.Throw(tasks.First(t => t.IsFaulted).Exception!.InnerExceptions[0]);
        }
    }

    /// <summary>Stops the devices and closes the transports and checkpoints.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        var closed = new ObjectDisposedException(nameof(ParallelEngine));
        foreach (var g in _groups.Concat(_expertGroups).Concat(_sequenceGroups)) g.Abort(closed);
        foreach (var l in _links) l.Abort(closed);
        foreach (var b in _clockBarriers) b.Abort(closed);
        foreach (var d in _devices) d.Dispose();
        foreach (var r in _ranks)
        {
            (r.Program as IDisposable)?.Dispose();
            r.Checkpoint?.Dispose();
        }
    }

    private sealed class Rank(CpuDevice device, RankContext context)
    {
        public CpuDevice Device { get; } = device;

        public RankContext Context { get; } = context;

        public int Index => Context.Rank;

        public IRankProgram? Program { get; set; }

        public Checkpoint? Checkpoint { get; set; }

        /// <summary>Handle -> this rank's cache of that sequence; entries go when the caller drops the handle.</summary>
        public ConditionalWeakTable<KvCache, KvCache> Local { get; } = new();

        /// <summary>Local cache -> the bytes of it this device's ledger counts.</summary>
        public ConditionalWeakTable<KvCache, StrongBox<long>> KvAccounted { get; } = new();
    }

    /// <summary>Which replica, and which expert rank in it, holds a handle's sequence (-1: none yet).</summary>
    private sealed class HandleState
    {
        public int Replica = -1;
        public int ExpertRank = -1;
    }

    /// <summary>
    /// The caller's batch, per sequence: its new tokens, its handle, the position of its first new token and the
    /// sequence rank of each new token.
    /// </summary>
    private sealed record ForwardJob(int[][] Tokens, bool LastLogitsOnly, KvCache[] Handles, int[] Starts, int[][] Placement)
    {
        /// <summary>Sequence rank <paramref name="q"/>'s part of a micro-batch: every sequence, each with the tokens placed on q (maybe none).</summary>
        public TokenBatch ShardOf(int[] sequences, int q, Dictionary<int, KvCache> local)
        {
            var tokens = new int[sequences.Length][];
            var positions = new int[sequences.Length][];
            var wantsLogits = new bool[sequences.Length][];
            for (int i = 0; i < sequences.Length; i++)
            {
                int s = sequences[i], count = Tokens[s].Length;
                var mine = Enumerable.Range(0, count).Where(t => Placement[s][t] == q).ToArray();
                tokens[i] = mine.Select(t => Tokens[s][t]).ToArray();
                positions[i] = mine.Select(t => Starts[s] + t).ToArray();
                wantsLogits[i] = mine.Select(t => !LastLogitsOnly || t == count - 1).ToArray();
            }
            return TokenBatch.ForShard(sequences.Select(s => local[s]).ToArray(), tokens, positions, wantsLogits);
        }
    }

    /// <summary>
    /// One replica's part of a forward: MicroBatches[i][x] = the sequences expert rank x runs in micro-batch i;
    /// Results[i, x, q] = the logits of their tokens on sequence rank q (from the last stage's ranks (q, x), tensor rank 0).
    /// </summary>
    private sealed class ReplicaWork(int[][] sequencesOfExpertRank, int[][][] microBatches, PipelineSchedule schedule, AbortableBarrier clock, int sequenceDegree)
    {
        public int[][] SequencesOfExpertRank { get; } = sequencesOfExpertRank;

        public int[][][] MicroBatches { get; } = microBatches;

        public PipelineSchedule Schedule { get; } = schedule;

        public AbortableBarrier Clock { get; } = clock;

        public float[]?[,,] Results { get; } = new float[microBatches.Length, sequencesOfExpertRank.Length, sequenceDegree][];
    }
}
