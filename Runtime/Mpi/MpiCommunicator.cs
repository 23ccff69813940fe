using System.Diagnostics;

namespace Tessera.Mpi;

/// <summary>An MPI wait that outlived its bound: a peer is gone or stuck.</summary>
public sealed class MpiTimeoutException(string message) : Exception(message);

/// <summary>
/// An MPI communicator with the operations Tessera needs, each non-blocking underneath and waited for with a bound
/// (<see cref="MpiWorld.Timeout"/>): a receive from a rank that died or hangs fails with <see cref="MpiTimeoutException"/>
/// instead of hanging, and the caller aborts the job.
/// </summary>
public sealed unsafe class MpiCommunicator
{
    internal MpiCommunicator(nint handle, string name)
    {
        Handle = handle;
        Name = name;
        int rank, size;
        Check(MpiApi.MPI_Comm_rank(handle, &rank), "MPI_Comm_rank");
        Check(MpiApi.MPI_Comm_size(handle, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
    }

    internal nint Handle { get; }

    /// <summary>What the communicator joins, for messages ("tensor group of rank 3").</summary>
    public string Name { get; }

    public int Rank { get; }

    public int Size { get; }

    /// <summary>The ranks of this communicator with the same <paramref name="color"/>, ordered by <paramref name="key"/>. Collective: every rank calls it.</summary>
    public MpiCommunicator Split(int color, int key, string name)
    {
        nint split;
        Check(MpiApi.MPI_Comm_split(Handle, color, key, &split), "MPI_Comm_split");
        return new MpiCommunicator(split, name);
    }

    public void Send(ReadOnlySpan<float> data, int destination, int tag)
    {
        fixed (float* buffer = data)
        {
            nint request;
            Check(MpiApi.MPI_Isend(buffer, data.Length, MpiApi.Float, destination, tag, Handle, &request), "MPI_Isend");
            Wait(ref request, $"sending {data.Length} floats to rank {destination} of the {Name}");
        }
    }

    public void Receive(Span<float> data, int source, int tag)
    {
        fixed (float* buffer = data)
        {
            nint request;
            Check(MpiApi.MPI_Irecv(buffer, data.Length, MpiApi.Float, source, tag, Handle, &request), "MPI_Irecv");
            Wait(ref request, $"receiving {data.Length} floats from rank {source} of the {Name}");
        }
    }

    /// <summary>
    /// Starts sending <paramref name="pinned"/>[0..count) and returns at once: the array must stay untouched until the
    /// request completes (allocate it pinned: <c>GC.AllocateUninitializedArray&lt;float&gt;(n, pinned: true)</c>).
    /// </summary>
    public MpiRequest StartSend(float[] pinned, int count, int destination, int tag)
    {
        nint request;
        fixed (float* buffer = pinned)
            Check(MpiApi.MPI_Isend(buffer, count, MpiApi.Float, destination, tag, Handle, &request), "MPI_Isend");
        return new MpiRequest(request, pinned, $"sending {count} floats to rank {destination} of the {Name}");
    }

    /// <summary>Starts receiving into <paramref name="pinned"/>[0..count) (a pinned array) and returns at once.</summary>
    public MpiRequest StartReceive(float[] pinned, int count, int source, int tag)
    {
        nint request;
        fixed (float* buffer = pinned)
            Check(MpiApi.MPI_Irecv(buffer, count, MpiApi.Float, source, tag, Handle, &request), "MPI_Irecv");
        return new MpiRequest(request, pinned, $"receiving {count} floats from rank {source} of the {Name}");
    }

    public void Barrier(TimeSpan? timeout = null)
    {
        nint request;
        Check(MpiApi.MPI_Ibarrier(Handle, &request), "MPI_Ibarrier");
        Wait(ref request, $"a barrier of the {Name}", timeout);
    }

    /// <summary>Every rank gets <paramref name="data"/> of <paramref name="root"/> (the other ranks' arrays must have the same length).</summary>
    public void Broadcast(int[] data, int root, TimeSpan? timeout = null)
    {
        fixed (int* buffer = data)
        {
            nint request;
            Check(MpiApi.MPI_Ibcast(buffer, data.Length, MpiApi.Int, root, Handle, &request), "MPI_Ibcast");
            Wait(ref request, $"a broadcast from rank {root} of the {Name}", timeout);
        }
    }

    /// <summary>received[r * count .. (r + 1) * count) = rank r's <paramref name="send"/>.</summary>
    public void AllGather(ReadOnlySpan<float> send, Span<float> received)
    {
        fixed (float* s = send, r = received)
        {
            nint request;
            Check(MpiApi.MPI_Iallgather(s, send.Length, MpiApi.Float, r, send.Length, MpiApi.Float, Handle, &request), "MPI_Iallgather");
            Wait(ref request, $"an all-gather of the {Name}");
        }
    }

    /// <summary>Every rank's <paramref name="value"/>, by rank.</summary>
    public long[] AllGather(long value, TimeSpan? timeout = null)
    {
        var received = new long[Size];
        fixed (long* r = received)
        {
            nint request;
            Check(MpiApi.MPI_Iallgather(&value, 1, MpiApi.Int64, r, 1, MpiApi.Int64, Handle, &request), "MPI_Iallgather");
            Wait(ref request, $"an all-gather of the {Name}", timeout);
        }
        return received;
    }

    /// <summary>
    /// data = the element-wise sum of every rank's data, by MPI_Allreduce (its algorithm, its summation order: not
    /// promised equal on every rank, which is why <see cref="MpiGroup"/> sums in rank order itself). For comparison.
    /// </summary>
    public void AllReduceSum(Span<float> data)
    {
        fixed (float* d = data)
        {
            nint request;
            // MPI_IN_PLACE is ((void*)1) in Open MPI.
            Check(MpiApi.MPI_Iallreduce((void*)1, d, data.Length, MpiApi.Float, MpiApi.Sum, Handle, &request), "MPI_Iallreduce");
            Wait(ref request, $"an all-reduce of the {Name}");
        }
    }

    /// <summary>Each rank's block for every rank (any sizes), exchanged: the counts first, then the floats.</summary>
    public float[][] AllToAll(float[][] send)
    {
        var sendCounts = send.Select(b => b.Length).ToArray();
        var receiveCounts = new int[Size];
        fixed (int* s = sendCounts, r = receiveCounts)
        {
            nint request;
            Check(MpiApi.MPI_Ialltoall(s, 1, MpiApi.Int, r, 1, MpiApi.Int, Handle, &request), "MPI_Ialltoall");
            Wait(ref request, $"an all-to-all of counts in the {Name}");
        }
        var sendDisplacements = new int[Size];
        var receiveDisplacements = new int[Size];
        for (int i = 1; i < Size; i++)
        {
            sendDisplacements[i] = sendDisplacements[i - 1] + sendCounts[i - 1];
            receiveDisplacements[i] = receiveDisplacements[i - 1] + receiveCounts[i - 1];
        }
        var flat = send.SelectMany(b => b).ToArray();
        var received = new float[receiveCounts.Sum()];
        fixed (float* s = flat, r = received)
        fixed (int* sc = sendCounts, sd = sendDisplacements, rc = receiveCounts, rd = receiveDisplacements)
        {
            nint request;
            Check(MpiApi.MPI_Ialltoallv(s, sc, sd, MpiApi.Float, r, rc, rd, MpiApi.Float, Handle, &request), "MPI_Ialltoallv");
            Wait(ref request, $"an all-to-all of the {Name}");
        }
        return Enumerable.Range(0, Size).Select(i => received.AsSpan(receiveDisplacements[i], receiveCounts[i]).ToArray()).ToArray();
    }

    /// <summary>Polls a request until it completes, yielding the core after a short spin; past the bound, throws.</summary>
    internal static void Wait(ref nint request, string what, TimeSpan? timeout = null)
    {
        var bound = timeout ?? MpiWorld.Timeout;
        var clock = Stopwatch.StartNew();
        int spins = 0;
        while (!Test(ref request))
        {
            if (clock.Elapsed > bound)
                throw new MpiTimeoutException($"waited {bound.TotalSeconds:0} s for {what}: a rank is gone or stuck.");
            // Spin briefly (a step's messages arrive within microseconds), then give the core back: on an
            // oversubscribed machine the rank being waited for needs it.
            if (++spins > 200) Thread.Sleep(spins > 5000 ? 1 : 0);
        }
    }

    /// <summary>True once the request has completed (MPI then sets it to MPI_REQUEST_NULL); progresses every pending operation.</summary>
    internal static bool Test(ref nint request)
    {
        int done;
        fixed (nint* r = &request) Check(MpiApi.MPI_Test(r, &done, null), "MPI_Test");
        return done != 0;
    }

    internal static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error {code}.");
    }
}

/// <summary>A send or receive under way; it keeps its (pinned) buffer alive until it completes.</summary>
public sealed class MpiRequest
{
    private nint _handle;
    private readonly string _what;

    internal MpiRequest(nint handle, float[] buffer, string what)
    {
        _handle = handle;
        Buffer = buffer;
        _what = what;
    }

    /// <summary>The array being sent or received into.</summary>
    public float[] Buffer { get; }

    public bool IsCompleted { get; private set; }

    /// <summary>Checks (and progresses) the request without waiting.</summary>
    public bool Test() => IsCompleted || (IsCompleted = MpiCommunicator.Test(ref _handle));

    /// <summary>Waits for the request, at most <paramref name="timeout"/> (default <see cref="MpiWorld.Timeout"/>).</summary>
    public void Wait(TimeSpan? timeout = null)
    {
        if (IsCompleted) return;
        MpiCommunicator.Wait(ref _handle, _what, timeout);
        IsCompleted = true;
    }
}
