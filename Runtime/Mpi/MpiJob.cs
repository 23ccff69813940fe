using Tessera.Parallelism;

namespace Tessera.Mpi;

/// <summary>
/// What rank 0 broadcasts before every forward: the job (each sequence by id, with the position of its first new token
/// and its tokens), and the ids of sequences whose caller dropped their cache since the last message (each rank frees
/// its keys and values for them). A message without a job ends the followers' loop.
/// </summary>
/// <param name="Job">the forward (null: shut down)</param>
/// <param name="SequenceIds">per sequence of the job, the id of its cache handle</param>
/// <param name="Released">ids of dropped sequences</param>
internal sealed record MpiJob(ForwardJob? Job, int[] SequenceIds, int[] Released)
{
    private const int ForwardKind = 1, ShutdownKind = 2;

    public static MpiJob Shutdown { get; } = new(null, [], []);

    /// <summary>Layout: kind, last-logits-only, released count, released ids, sequences, then per sequence id, start, count, tokens.</summary>
    public int[] Encode()
    {
        var message = new List<int> { Job is null ? ShutdownKind : ForwardKind, Job?.LastLogitsOnly == true ? 1 : 0, Released.Length };
        message.AddRange(Released);
        message.Add(SequenceIds.Length);
        for (int s = 0; s < SequenceIds.Length; s++)
        {
            message.Add(SequenceIds[s]);
            message.Add(Job!.Starts[s]);
            message.Add(Job.Tokens[s].Length);
            message.AddRange(Job.Tokens[s]);
        }
        return message.ToArray();
    }

    /// <summary>The message again, its token placement recomputed for <paramref name="sequenceDegree"/> sequence ranks.</summary>
    public static MpiJob Decode(int[] message, int sequenceDegree)
    {
        int at = 0;
        int Next() => at < message.Length ? message[at++] : throw new InvalidDataException($"The job message ends at {message.Length} ints, mid-record.");
        int kind = Next();
        bool lastOnly = Next() != 0;
        var released = new int[Next()];
        for (int i = 0; i < released.Length; i++) released[i] = Next();
        if (kind == ShutdownKind) return Shutdown with { Released = released };
        if (kind != ForwardKind) throw new InvalidDataException($"Unknown job kind {kind}.");
        int n = Next();
        var ids = new int[n];
        var starts = new int[n];
        var tokens = new int[n][];
        for (int s = 0; s < n; s++)
        {
            ids[s] = Next();
            starts[s] = Next();
            tokens[s] = new int[Next()];
            for (int t = 0; t < tokens[s].Length; t++) tokens[s][t] = Next();
        }
        return new MpiJob(ForwardJob.Of(tokens, lastOnly, starts, sequenceDegree), ids, released);
    }
}
