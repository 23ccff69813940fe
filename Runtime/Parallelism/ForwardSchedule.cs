namespace Tessera.Parallelism;

/// <summary>Where a sequence's keys and values live between forwards: its replica and its expert rank (-1: nowhere yet).</summary>
internal sealed class SequenceHome
{
    public int Replica = -1;
    public int ExpertRank = -1;
}

/// <summary>
/// The caller's batch as every rank sees it, per sequence: its new tokens, the position of the first, and the sequence
/// rank of each new token. Plain data: a multi-process run broadcasts it and every process plans the same forward.
/// </summary>
/// <param name="Tokens">per sequence, its new tokens</param>
/// <param name="LastLogitsOnly">whether only each sequence's last token wants logits</param>
/// <param name="Starts">per sequence, the position of its first new token (its cache's length before the forward)</param>
/// <param name="Placement">per sequence and new token, the sequence rank that computes and caches it</param>
internal sealed record ForwardJob(int[][] Tokens, bool LastLogitsOnly, int[] Starts, int[][] Placement)
{
    public static ForwardJob Of(int[][] tokens, bool lastLogitsOnly, int[] starts, int sequenceDegree) =>
        new(tokens, lastLogitsOnly, starts, tokens.Select((t, s) => SequencePlacement.Ranks(starts[s], t.Length, sequenceDegree)).ToArray());

    /// <summary>The caller's batch as a job: its rows regrouped by sequence, each starting at its cache's length.</summary>
    public static ForwardJob Of(TokenBatch batch, int sequenceDegree)
    {
        var tokens = new List<int>[batch.Caches.Length];
        for (int s = 0; s < tokens.Length; s++) tokens[s] = [];
        for (int row = 0; row < batch.Rows; row++) tokens[batch.SequenceOfRow[row]].Add(batch.Tokens[row]);
        return Of(tokens.Select(t => t.ToArray()).ToArray(), !batch.AllLogitRows, batch.Caches.Select(c => c.Length).ToArray(), sequenceDegree);
    }

    /// <summary>Rows whose logits the caller gets, per sequence.</summary>
    public int LogitRowsOf(int sequence) => LastLogitsOnly ? 1 : Tokens[sequence].Length;
}

/// <summary>
/// One replica's part of a forward: MicroBatches[i][x] = the sequences expert rank x runs in micro-batch i;
/// Results[i, x, q] = the logits of their tokens on sequence rank q (from the last stage's ranks (q, x), tensor rank 0).
/// </summary>
internal sealed class ReplicaWork(int[][] sequencesOfExpertRank, int[][][] microBatches, PipelineSchedule schedule, int sequenceDegree)
{
    public int[][] SequencesOfExpertRank { get; } = sequencesOfExpertRank;

    public int[][][] MicroBatches { get; } = microBatches;

    public PipelineSchedule Schedule { get; } = schedule;

    public float[]?[,,] Results { get; } = new float[microBatches.Length, sequencesOfExpertRank.Length, sequenceDegree][];
}

/// <summary>
/// How a plan runs one forward, as pure functions of the job and the sequences' homes: every process of a
/// multi-process run computes the same distribution from the same broadcast, and the in-process engine uses the same
/// code. Also one rank's walk through the schedule and the assembly of the logits in the caller's order.
/// </summary>
internal static class ForwardSchedule
{
    /// <summary>
    /// (a) Sequences to replicas, a sequence with cached positions back where its keys and values are; (b) per replica, its
    /// sequences over its expert ranks (each runs the dense parts for its own sequences, pinned likewise), then
    /// contiguous micro-batches of each expert rank's sequences, as even as possible (micro-batch i of the replica is the
    /// i-th part of every expert rank's share; a part may be empty: that rank still takes part in the all-to-alls);
    /// (c) each replica's schedule: the plan's <paramref name="schedule"/> for its micro-batches. Updates the homes.
    /// </summary>
    public static ReplicaWork?[] Distribute(ParallelPlan plan, PipelineSchedule schedule, ForwardJob job, SequenceHome[] homes, RequestPartitioner partitioner, RequestPartitioner expertPartitioner)
    {
        int n = job.Tokens.Length;
        var pinned = Enumerable.Range(0, n).Select(s => homes[s].Replica >= 0 && job.Starts[s] > 0 ? homes[s].Replica : -1).ToArray();
        var partition = partitioner.Partition(pinned);
        for (int s = 0; s < n; s++) homes[s].Replica = partition.Locate(s).Replica;

        var replicas = new ReplicaWork?[plan.Data];
        for (int r = 0; r < plan.Data; r++)
        {
            var sequences = partition.SequencesOfReplica[r];
            if (sequences.Length == 0) continue;
            var pinnedExpert = sequences.Select(s => homes[s].ExpertRank >= 0 && job.Starts[s] > 0 ? homes[s].ExpertRank : -1).ToArray();
            var ofExpertRank = expertPartitioner.Partition(pinnedExpert).SequencesOfReplica.Select(part => part.Select(i => sequences[i]).ToArray()).ToArray();
            for (int x = 0; x < ofExpertRank.Length; x++)
                foreach (int s in ofExpertRank[x]) homes[s].ExpertRank = x;
            int m = Math.Min(plan.MicroBatches, ofExpertRank.Max(part => part.Length));
            var microBatches = new int[m][][];
            for (int i = 0; i < m; i++) microBatches[i] = new int[ofExpertRank.Length][];
            for (int x = 0; x < ofExpertRank.Length; x++)
            {
                var sizes = RequestPartitioner.EvenSizes(ofExpertRank[x].Length, m);
                for (int i = 0, next = 0; i < m; next += sizes[i], i++) microBatches[i][x] = ofExpertRank[x][next..(next + sizes[i])];
            }
            replicas[r] = new ReplicaWork(ofExpertRank, microBatches, schedule.First(m), plan.Sequence);
        }
        return replicas;
    }

    /// <summary>
    /// Makes a rank-local cache agree with its sequence's length: the caller's handle is the truth, so a sequence that
    /// was truncated or reset rewinds its caches with it; a shard drops the positions the sequence no longer has.
    /// </summary>
    public static void Align(KvCache cache, int length, int sequence)
    {
        if (cache.IsShard) cache.RewindTo(length);
        else if (cache.Length > length) cache.Truncate(length);
        else if (cache.Length < length)
            throw new InvalidOperationException(
                $"the rank-local cache of sequence {sequence} holds {cache.Length} positions but the sequence {length}: did the rank program commit its batch?");
    }

    /// <summary>The batch a rank runs for a micro-batch: its sequences' tokens (under sequence parallelism, those placed on its sequence rank).</summary>
    public static TokenBatch LocalBatch(ParallelPlan plan, ForwardJob job, int[] sequences, int sequenceRank, Func<int, KvCache> cacheOf)
    {
        if (plan.Sequence == 1)
            return TokenBatch.ForSequences(sequences.Select(cacheOf).ToArray(), sequences.Select(s => job.Tokens[s]).ToArray(), job.LastLogitsOnly);
        var tokens = new int[sequences.Length][];
        var positions = new int[sequences.Length][];
        var wantsLogits = new bool[sequences.Length][];
        for (int i = 0; i < sequences.Length; i++)
        {
            int s = sequences[i], count = job.Tokens[s].Length;
            var mine = Enumerable.Range(0, count).Where(t => job.Placement[s][t] == sequenceRank).ToArray();
            tokens[i] = mine.Select(t => job.Tokens[s][t]).ToArray();
            positions[i] = mine.Select(t => job.Starts[s] + t).ToArray();
            wantsLogits[i] = mine.Select(t => !job.LastLogitsOnly || t == count - 1).ToArray();
        }
        return TokenBatch.ForShard(sequences.Select(cacheOf).ToArray(), tokens, positions, wantsLogits);
    }

    /// <summary>
    /// One rank's share of a forward: walks its replica's clocks and runs a step where the schedule says so, keeping the
    /// logits of a last stage's tensor rank 0 in the work's results. <paramref name="clock"/> (a barrier of the replica's
    /// ranks) runs after every clock of a pipeline, as GPipe's schedule is drawn: what a stage receives at clock c was
    /// sent at c - 1, so a step's time is its own work, not a wait.
    /// </summary>
    /// <param name="onStep">called before each step with (clock, micro-batch)</param>
    /// <param name="afterStep">called after each step with (clock, micro-batch, the sequences it ran)</param>
    public static void RunRank(ParallelPlan plan, RankContext context, IRankProgram program, ReplicaWork work, ForwardJob job, Func<int, KvCache> cacheOf,
        int vocab, Action clock, Action<int, int>? onStep = null, Action<int, int, int[]>? afterStep = null, Action<int?, int?>? position = null)
    {
        for (int c = 0; c < work.Schedule.Clocks; c++)
        {
            int? microBatch = work.Schedule.MicroBatchAt(context.Stage, c);
            position?.Invoke(c, microBatch);
            if (microBatch is int i)
            {
                var sequences = work.MicroBatches[i][context.ExpertRank];
                onStep?.Invoke(c, i);
                var localBatch = LocalBatch(plan, job, sequences, context.SequenceRank, cacheOf);
                var logits = program.RunStage(localBatch);
                afterStep?.Invoke(c, i, sequences);
                if (context.IsLastStage && context.TensorRank == 0)
                {
                    long expected = (long)localBatch.LogitRows.Length * vocab;
                    if (logits is null || logits.LongLength < expected)
                        throw new InvalidOperationException($"the last stage returned {(logits is null ? "no logits" : $"{logits.Length} floats")}; expected {expected} ({localBatch.LogitRows.Length} rows x vocab {vocab}).");
                    work.Results[i, context.ExpertRank, context.SequenceRank] = logits;
                }
            }
            if (plan.Pipeline > 1) clock();
        }
    }

    /// <summary>Logit rows a last-stage rank (expert rank x, sequence rank q) returns for micro-batch i.</summary>
    public static int LogitRowsOf(ForwardJob job, int[] sequences, int q)
    {
        int rows = 0;
        foreach (int s in sequences)
        {
            int count = job.Tokens[s].Length;
            for (int t = 0; t < count; t++)
                if (job.Placement[s][t] == q && (!job.LastLogitsOnly || t == count - 1)) rows++;
        }
        return rows;
    }

    /// <summary>
    /// The logits of every replica's last stages in <paramref name="output"/> (the caller's batch's logit rows x vocab),
    /// in the caller's row order (sequence after sequence).
    /// </summary>
    public static float[] AssembleLogits(ParallelPlan plan, ForwardJob job, IReadOnlyList<ReplicaWork?> replicas, int vocab, float[] output)
    {
        int n = job.Tokens.Length;
        var firstLogitRow = new int[n];
        for (int s = 1; s < n; s++) firstLogitRow[s] = firstLogitRow[s - 1] + job.LogitRowsOf(s - 1);
        long length = (long)(n == 0 ? 0 : firstLogitRow[n - 1] + job.LogitRowsOf(n - 1)) * vocab;
        if (output.LongLength != length) throw new ArgumentException($"{output.LongLength} floats for {length} logits.", nameof(output));
        foreach (var replica in replicas)
        {
            if (replica is null) continue;
            for (int i = 0; i < replica.MicroBatches.Length; i++)
                for (int x = 0; x < replica.MicroBatches[i].Length; x++)
                    for (int q = 0; q < plan.Sequence; q++)
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
        return output;
    }
}
