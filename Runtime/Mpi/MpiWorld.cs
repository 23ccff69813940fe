namespace Tessera.Mpi;

/// <summary>
/// The MPI job this process belongs to, when it was started by <c>mpirun</c>: detected from the environment Open MPI
/// sets (OMPI_COMM_WORLD_SIZE), initialised once, finalised or aborted once.
/// </summary>
public static unsafe class MpiWorld
{
    private static readonly object Gate = new();
    private static MpiCommunicator? _world;
    private static bool _finalized;

    /// <summary>True when this process was started by mpirun (Open MPI), whether or not MPI is initialised yet.</summary>
    public static bool IsLaunched => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { Length: > 0 };

    /// <summary>True when mpirun started this process as one of several: each runs one rank of a plan.</summary>
    public static bool IsMultiProcess => IsLaunched && LaunchedSize > 1;

    /// <summary>Processes of the job, from the environment (before MPI is initialised too).</summary>
    public static int LaunchedSize => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE"), out int size) ? size : 1;

    /// <summary>This process's rank in the job, from the environment.</summary>
    public static int LaunchedRank => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_RANK"), out int rank) ? rank : 0;

    /// <summary>Processes of the job on this node (they share its cores).</summary>
    public static int LocalSize => int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int size) && size > 0 ? size : 1;

    /// <summary>
    /// How long any wait for a peer may last before the job is aborted (TESSERA_MPI_TIMEOUT, seconds; default 300): a
    /// rank that hangs ends the job instead of leaving the others waiting. It bounds one wait, so it must exceed the
    /// longest step of a stage (a long prefill of a big model on CPU). A rank that dies needs no timeout: mpirun
    /// notices at once and ends the job.
    /// </summary>
    public static TimeSpan Timeout { get; } = TimeSpan.FromSeconds(
        double.TryParse(Environment.GetEnvironmentVariable("TESSERA_MPI_TIMEOUT"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 300);

    /// <summary>MPI_COMM_WORLD, initialising MPI on first use (thread level: serialized calls from any thread).</summary>
    public static MpiCommunicator World
    {
        get
        {
            lock (Gate)
            {
                if (_world is not null) return _world;
                if (_finalized) throw new InvalidOperationException("MPI was finalised.");
                int initialized;
                MpiCommunicator.Check(MpiApi.MPI_Initialized(&initialized), "MPI_Initialized");
                if (initialized == 0)
                {
                    int provided;
                    MpiCommunicator.Check(MpiApi.MPI_Init_thread(null, null, MpiApi.ThreadMultiple, &provided), "MPI_Init_thread");
                    if (provided < MpiApi.ThreadSerialized)
                        throw new InvalidOperationException($"MPI provides thread level {provided}; Tessera calls it from worker threads (it needs MPI_THREAD_SERIALIZED at least).");
                }
                return _world = new MpiCommunicator(MpiApi.CommWorld, "world");
            }
        }
    }

    /// <summary>
    /// Ends MPI for this process, in step with the others: a barrier of the world (bounded), then MPI_Finalize. Every
    /// process of the job ends this way, rank 0 last to reach it when it has something to say: a follower that met
    /// the same bad arguments as rank 0 waits here, so mpirun does not stop the job before rank 0 has printed why.
    /// Initialises MPI first if nothing did yet. Idempotent.
    /// </summary>
    public static void Close()
    {
        lock (Gate)
        {
            if (_finalized) return;
            try
            {
                World.Barrier(Timeout);
            }
            catch (MpiTimeoutException)
            {
                // A peer never came: end this process's part anyway (mpirun ends the job when a process exits non-zero).
            }
            _finalized = true;
            MpiApi.MPI_Finalize();
        }
    }

    /// <summary>Ends the whole job with <paramref name="code"/>: mpirun stops every rank. Does not return.</summary>
    public static void Abort(int code = 1)
    {
        Console.Error.Flush();
        Console.Out.Flush();
        if (_world is not null) MpiApi.MPI_Abort(MpiApi.CommWorld, code);
        Environment.Exit(code);
    }
}
