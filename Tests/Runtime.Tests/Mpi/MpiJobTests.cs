using Tessera.Mpi;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Mpi;

/// <summary>What rank 0 broadcasts is all the other ranks know of a forward: it must come back whole.</summary>
public sealed class MpiJobTests
{
    [Fact]
    public void A_forward_job_survives_the_broadcast_encoding_with_its_placement_recomputed()
    {
        var job = ForwardJob.Of([[5, 6, 7, 8, 9], [1]], lastLogitsOnly: true, starts: [0, 17], sequenceDegree: 2);
        var message = new MpiJob(job, SequenceIds: [12, 3], Released: [1, 2]);

        var back = MpiJob.Decode(message.Encode(), sequenceDegree: 2);

        Assert.Equal([12, 3], back.SequenceIds);
        Assert.Equal([1, 2], back.Released);
        Assert.NotNull(back.Job);
        Assert.True(back.Job.LastLogitsOnly);
        Assert.Equal(job.Starts, back.Job.Starts);
        Assert.Equal(job.Tokens, back.Job.Tokens);
        Assert.Equal(job.Placement, back.Job.Placement);
    }

    [Fact]
    public void The_shutdown_message_has_no_job_but_still_carries_released_sequences()
    {
        var back = MpiJob.Decode((MpiJob.Shutdown with { Released = [4] }).Encode(), sequenceDegree: 1);

        Assert.Null(back.Job);
        Assert.Equal([4], back.Released);
    }

    [Fact]
    public void A_truncated_message_is_an_error_not_a_wrong_job()
    {
        var encoded = new MpiJob(ForwardJob.Of([[5, 6, 7]], false, [0], 1), [1], []).Encode();

        Assert.Throws<InvalidDataException>(() => MpiJob.Decode(encoded[..^1], 1));
    }
}
