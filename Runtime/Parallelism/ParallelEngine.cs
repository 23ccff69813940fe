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
    private readonly Cpu.CpuRankOptions _rankOptions; // the same for every device: the plan's precision, each device's share of the cores
    private readonly Rank[] _ranks;
    private readonly CpuDevice[] _devices;
    private readonly InProcessGroup[] _groups;          // tensor groups, [((data * P + stage) * S + sequence) * E + expert]
    private readonly InProcessGroup[] _expertGroups;    // expert groups, [((data * P + stage) * S + sequence) * T + tensor]
    private readonly InProcessGroup[] _sequenceGroups;  // sequence groups, [((data * P + stage) * E + expert) * T + tensor]
    private readonly InProcessStageLink[] _links;       // every stage boundary of every (data, sequence, expert, tensor) chain
    private readonly AbortableBarrier[] _clockBarriers; // [data]: the stages of a replica advance clock by clock
    private readonly RequestPartitioner _partitioner;
    private readonly RequestPartitioner _expertPartitioner; // a replica's sequences over its expert ranks
    private readonly ConditionalWeakTable<KvCache, SequenceHome> _handles = new();
    private readonly object _forwardGate = new();
    private RankFailedException? _failure;
    private int _disposed;

    private ParallelEngine(ParallelPlan plan, ModelFacts facts, int[] split, bool splitBalanced, PipelineSchedule schedule, Func<int, string>? deviceName)
    {
        Plan = plan;
        Facts = facts;
        LayerSplit = split;
        SplitWasBalanced = splitBalanced;
        Schedule = schedule;
        _partitioner = new RequestPartitioner(plan.Data);
        _expertPartitioner = new RequestPartitioner(plan.Expert);
        int d = plan.Data, p = plan.Pipeline, sp = plan.Sequence, x = plan.Expert, t = plan.Tensor;
        var ranges = StagePartitioner.LayerRanges(split);

        _devices = Enumerable.Range(0, plan.DeviceCount).Select(i => new CpuDevice(i, deviceName?.Invoke(i))).ToArray();
        // Each device's kernels get its share of the cores (at least one), as if each were its own processor.
        _rankOptions = new Cpu.CpuRankOptions(plan.Precision, Cpu.CpuExecution.ShareOf(_devices.Length));
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
                            int rank = plan.RankOf(data, j, q, expert, tensor);
                            var context = new RankContext(rank, data, j, p, ranges[j].First, ranges[j].End, _groups[(stage * sp + q) * x + expert][tensor],
                                j > 0 ? links[data, q, expert, tensor, j - 1] : null, j + 1 < p ? links[data, q, expert, tensor, j] : null)
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
    /// <param name="createRank">builds the program of one rank (the compiler generates it) from its checkpoint, its context and its device's host options</param>
    /// <param name="facts">the model's sizes and costs from its config (the compiler generates this too)</param>
    /// <param name="schedule">
    /// the pipeline schedule as a [Compile] unit emits it ([stage, clock] = micro-batch, -1 idle): it drives every
    /// forward; null: GPipe's for the plan's stages and micro-batches
    /// </param>
    /// <param name="deviceName">the device rank i runs on, for messages and reports (a GPU's); null: "cpu:i"</param>
    /// <summary>
    /// The most virtual devices one process runs: each holds its own workers, weight shards and buffers, so a plan of a
    /// thousand on a laptop is a mistake that costs gigabytes before it shows (a dry run plans any size). Eight per
    /// core, and never fewer than 64.
    /// </summary>
    public static int MaxLocalDevices => Math.Max(64, 8 * Environment.ProcessorCount);

    public static ParallelEngine Create(string checkpointDirectory, ParallelPlan plan,
        Func<Checkpoint, RankContext, Cpu.CpuRankOptions, IRankProgram> createRank, Func<ModelConfig, ModelFacts> facts, int[,]? schedule = null,
        Func<int, string>? deviceName = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ModelConfig config;
        using (var checkpoint = Checkpoint.Open(checkpointDirectory)) config = checkpoint.Config;
        var modelFacts = facts(config);
        plan.ThrowIfInvalid(modelFacts); // before the schedule, threads or devices are sized from the plan's degrees
        if (plan.DeviceCount > MaxLocalDevices)
            throw new PlanException($"The plan has {plan.DeviceCount} devices; one process runs at most {MaxLocalDevices} here (8 per core, at least 64): plan larger ones with plan --dry-run or advise, or run them as processes under mpirun.");
        var pipeline = schedule is null ? new PipelineSchedule(plan.Pipeline, plan.MicroBatches) : PipelineSchedule.FromTable(schedule);
        if (pipeline.Stages != plan.Pipeline || pipeline.MicroBatches != plan.MicroBatches)
            throw new PlanException($"The schedule has {pipeline.Stages} stage(s) and {pipeline.MicroBatches} micro-batch(es); the plan has {plan.Pipeline} and {plan.MicroBatches}.");
        var engine = new ParallelEngine(plan, modelFacts, plan.ResolveSplit(modelFacts), plan.LayersPerStage is null, pipeline, deviceName);
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

    public ModelShape Shape => Facts.Shape;

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
        _handles.Add(handle, new SequenceHome());
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
        var homes = new SequenceHome[n];
        for (int s = 0; s < n; s++)
            if (!_handles.TryGetValue(batch.Caches[s], out homes[s]!))
                throw new ArgumentException($"The cache of sequence {s} was not made by this engine's CreateCache(): a parallel engine keeps the keys and values on its devices, behind its own handles.", nameof(batch));

        var job = ForwardJob.Of(batch, Plan.Sequence);
        var replicas = ForwardSchedule.Distribute(Plan, Schedule, job, homes, _partitioner, _expertPartitioner);

        var trace = new ScheduleTrace(_ranks.Select(rank => new TraceLane(rank.Index, rank.Device.Name, rank.Context.DataRank,
            rank.Context.Stage, rank.Context.TensorRank, replicas[rank.Context.DataRank]?.Schedule.Clocks ?? 0)).ToArray());
        _failure = null;
        var tasks = _ranks.Where(rank => replicas[rank.Context.DataRank] is not null)
            .Select(rank => rank.Device.Run(() => RunRank(rank, replicas[rank.Context.DataRank]!, job, batch.Caches, trace))).ToArray();
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
        var output = ForwardSchedule.AssembleLogits(Plan, job, replicas, Facts.VocabSize, batch.LogitsArray(Facts.VocabSize));
        batch.Commit();
        foreach (var rank in _ranks) rank.Device.Memory.SetActivations(rank.Program!.WorkspaceBytes);
        LastTrace = trace;
        return output;
    }

    /// <summary>One rank's share of a forward, on its device: its sequences' local caches, then its walk through the schedule.</summary>
    private void RunRank(Rank rank, ReplicaWork work, ForwardJob job, KvCache[] handles, ScheduleTrace trace)
    {
        var context = rank.Context;
        int? clock = null, microBatch = null;
        try
        {
            var local = new Dictionary<int, KvCache>();
            foreach (int s in work.SequencesOfExpertRank[context.ExpertRank])
            {
                var cache = rank.Local.GetValue(handles[s], _ => NewLocalCache(rank));
                ForwardSchedule.Align(cache, handles[s].Length, s);
                local[s] = cache;
            }
            var start = TimeSpan.Zero;
            ForwardSchedule.RunRank(Plan, context, rank.Program!, work, job, s => local[s], Facts.VocabSize, _clockBarriers[context.DataRank].SignalAndWait,
                onStep: (c, i) =>
                {
                    start = trace.Now;
                    OnStep?.Invoke(rank.Index, c, i);
                },
                afterStep: (c, i, sequences) =>
                {
                    foreach (int s in sequences) AccountKvGrowth(rank, local[s]);
                    trace.Record(new TraceStep(rank.Index, context.DataRank, context.Stage, context.TensorRank, c, i, start, trace.Now));
                },
                position: (c, i) => (clock, microBatch) = (c, i));
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

    private void Load(string checkpointDirectory, Func<Checkpoint, RankContext, Cpu.CpuRankOptions, IRankProgram> createRank)
    {
        var tasks = _ranks.Select(rank => rank.Device.Run(() =>
        {
            rank.Checkpoint = Checkpoint.Open(checkpointDirectory);
            var program = createRank(rank.Checkpoint, rank.Context, _rankOptions);
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
}
