using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Tessera.Checkpoints;
using Tessera.Cpu;
using Tessera.Parallelism;

namespace Tessera.Mpi;

/// <summary>
/// A plan run as one process per rank, started by <c>mpirun</c>: to rank 0's caller it is one engine (same
/// <see cref="Forward"/>, same logits as a single device, caches as handles); the other processes follow rank 0's
/// forwards until it disposes the engine.
/// </summary>
/// <remarks>
/// Each forward, rank 0 validates the batch, broadcasts it as an <see cref="MpiJob"/>, every process plans it with the
/// in-process engine's <see cref="ForwardSchedule"/> and runs its own share (stage links and tensor, expert and
/// sequence collectives over MPI), and the last stages send their logits to rank 0, which assembles them in the
/// caller's order. A failure on any rank after the broadcast ends the job (MPI_Abort) with the rank and the reason on
/// stderr: no rank is left waiting on one that will never answer.
/// </remarks>
public sealed class MpiEngine : ITransformerEngine, IDisposable
{
    private static MpiEngine? _current;

    private readonly MpiRank _rank;
    private readonly ConditionalWeakTable<KvCache, HandleTicket> _handles = new();
    private readonly ConcurrentQueue<int> _released = new();
    private readonly object _forwardGate = new();
    private int _nextSequenceId;
    private int _disposed;

    private MpiEngine(MpiRank rank, long weightBytes)
    {
        _rank = rank;
        WeightBytes = weightBytes;
    }

    public ParallelPlan Plan => _rank.Plan;

    public ModelFacts Facts => _rank.Facts;

    public ModelShape Shape => Facts.Shape;

    /// <summary>Bytes of weights over every rank of the job.</summary>
    public long WeightBytes { get; }

    /// <summary>Processes of the job.</summary>
    public int Processes => _rank.World.Size;

    /// <summary>
    /// Starts this process's rank of <paramref name="plan"/> and returns the engine on rank 0; on every other rank it
    /// follows rank 0's forwards and ends the process when rank 0 disposes the engine (it never returns).
    /// </summary>
    /// <remarks>
    /// What every process decides alike from the config (the plan's checks, its device count against the world's size)
    /// is decided before the rank starts: every process throws the same exception (the command line prints it on rank 0
    /// only, and every process ends through <see cref="MpiWorld.Close"/>). A rank that fails to load its slices ends the
    /// job with its rank and reason on stderr.
    /// </remarks>
    public static ITransformerEngine Start(string checkpointDirectory, ParallelPlan plan,
        Func<Checkpoint, RankContext, CpuRankOptions, IRankProgram> createRank, Func<ModelConfig, ModelFacts> facts)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (Volatile.Read(ref _current) is not null)
            throw new InvalidOperationException("This process already runs a rank of an MPI job: one engine per process.");
        ModelConfig config;
        using (var checkpoint = Checkpoint.Open(checkpointDirectory)) config = checkpoint.Config;
        var modelFacts = facts(config);
        plan.ThrowIfInvalid(modelFacts);
        if (plan.DeviceCount != MpiWorld.LaunchedSize)
            throw new PlanException(
                $"The plan {plan} needs {plan.DeviceCount} process{(plan.DeviceCount == 1 ? "" : "es")}, one per rank, but mpirun started {MpiWorld.LaunchedSize}: run mpirun -np {plan.DeviceCount}.");

        var options = new CpuRankOptions(plan.Precision, new CpuExecution(ThreadsPerRank()));
        var world = MpiWorld.World;
        MpiRank rank;
        try
        {
            rank = MpiRank.Load(checkpointDirectory, plan, modelFacts, world, (checkpoint, context) => createRank(checkpoint, context, options));
        }
        catch (Exception e)
        {
            Fail(plan, world.Rank, e);
            throw;
        }

        long weightBytes;
        try
        {
            // Loading takes as long as its slowest rank; a rank that failed has aborted the job already.
            weightBytes = world.AllGather(rank.Program.WeightBytes, MpiWorld.Timeout * 10).Sum();
        }
        catch (Exception e)
        {
            Fail(plan, world.Rank, e);
            throw;
        }

        if (world.Rank != 0)
        {
            Follow(rank);
            rank.Dispose();
            MpiWorld.Close();
            Environment.Exit(0);
        }
        return _current = new MpiEngine(rank, weightBytes);
    }

    /// <summary>
    /// The threads each rank's kernels use: a rank bound to some cores (mpirun binds up to two ranks to one core each)
    /// uses those; unbound ranks share the node's cores evenly.
    /// </summary>
    private static int ThreadsPerRank()
    {
        int visible = Environment.ProcessorCount;
        int online = Directory.Exists("/sys/devices/system/cpu")
            ? Directory.GetDirectories("/sys/devices/system/cpu", "cpu*").Count(d => Path.GetFileName(d)[3..].All(char.IsAsciiDigit))
            : visible;
        return visible < online ? visible : Math.Max(1, visible / MpiWorld.LocalSize);
    }

    /// <summary>A follower's life: each broadcast job, planned and run, until the shutdown message.</summary>
    private static void Follow(MpiRank rank)
    {
        try
        {
            while (true)
            {
                // Waiting for the next job has no bound: a server may idle for hours. A dead rank 0 ends the job through mpirun.
                var message = ReceiveJob(rank);
                if (message.Job is null) return;
                rank.Run(message, rank.Distribute(message));
            }
        }
        catch (Exception e)
        {
            Fail(rank.Plan, rank.World.Rank, e);
        }
    }

    private static MpiJob ReceiveJob(MpiRank rank)
    {
        var length = new int[1];
        rank.World.Broadcast(length, 0, TimeSpan.MaxValue);
        var payload = new int[length[0]];
        rank.World.Broadcast(payload, 0);
        return MpiJob.Decode(payload, rank.Plan.Sequence);
    }

    private static void SendJob(MpiRank rank, MpiJob job)
    {
        var payload = job.Encode();
        rank.World.Broadcast([payload.Length], 0);
        rank.World.Broadcast(payload, 0);
    }

    /// <summary>Ends the job: the rank and the reason on stderr (mpirun passes every rank's stderr on), then MPI_Abort.</summary>
    private static void Fail(ParallelPlan plan, int rank, Exception e)
    {
        string reason = string.Join(" ", e.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Console.Error.WriteLine($"error: {MpiRank.Describe(plan, rank)} failed: {e.GetType().Name}: {reason}");
        MpiWorld.Abort(1);
    }

    /// <summary>A handle: it tracks the sequence's length; each rank keeps the sequence's keys and values for its layers and heads.</summary>
    public KvCache CreateCache()
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var handle = KvCache.CreateHandle(Facts.ContextLength);
        _handles.Add(handle, new HandleTicket(Interlocked.Increment(ref _nextSequenceId), _released));
        return handle;
    }

    /// <summary>
    /// Checks the batch (caches of this engine, token ids in the vocabulary: bad input is the caller's error, before
    /// any rank sees it), broadcasts it, runs rank 0's share, gathers the logits and commits the batch.
    /// </summary>
    public float[] Forward(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        int n = batch.Caches.Length;
        var ids = new int[n];
        for (int s = 0; s < n; s++)
            ids[s] = _handles.TryGetValue(batch.Caches[s], out var ticket) ? ticket.Id
                : throw new ArgumentException($"The cache of sequence {s} was not made by this engine's CreateCache(): the ranks keep the keys and values, behind the engine's own handles.", nameof(batch));
        CpuKernels.CheckTokenIds(batch.Tokens, Facts.VocabSize);
        if (batch.Rows == 0) return [];

        var job = ForwardJob.Of(batch, Plan.Sequence);

        lock (_forwardGate)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var message = new MpiJob(job, ids, DrainReleased());
            try
            {
                SendJob(_rank, message);
                var replicas = _rank.Distribute(message);
                var results = _rank.ReceiveResults(message, replicas);
                _rank.Run(message, replicas);
                foreach (var result in results) result.Wait();
                var logits = ForwardSchedule.AssembleLogits(Plan, job, replicas, Facts.VocabSize, batch.LogitsArray(Facts.VocabSize));
                batch.Commit();
                return logits;
            }
            catch (Exception e)
            {
                // Past the broadcast every rank is in this forward: a failure cannot be handed back without leaving them waiting.
                Fail(Plan, 0, e);
                throw;
            }
        }
    }

    private int[] DrainReleased()
    {
        var released = new List<int>();
        while (_released.TryDequeue(out int id)) released.Add(id);
        return released.ToArray();
    }

    /// <summary>Tells the followers to stop (they close MPI and exit 0), then closes MPI here.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        lock (_forwardGate)
        {
            try
            {
                SendJob(_rank, MpiJob.Shutdown);
            }
            catch (Exception e)
            {
                Fail(Plan, 0, e);
            }
            _rank.Dispose();
            MpiWorld.Close();
            Interlocked.CompareExchange(ref _current, null, this);
        }
    }

    /// <summary>Disposes the engine of this process, if one is running: a command that ends without disposing it must not leave the followers waiting.</summary>
    public static void ShutdownCurrent() => Volatile.Read(ref _current)?.Dispose();

    /// <summary>A handle's id; when the caller drops the handle, the id is queued so that every rank frees the sequence.</summary>
    private sealed class HandleTicket(int id, ConcurrentQueue<int> released)
    {
        public int Id { get; } = id;

        ~HandleTicket() => released.Enqueue(Id);
    }
}
