using System.Runtime.InteropServices;

namespace Tessera.Mpi;

/// <summary>
/// The few MPI entry points Tessera uses, bound by P/Invoke to Open MPI (Debian's <c>openmpi-bin</c> /
/// <c>libopenmpi-dev</c>, <c>libmpi.so.40</c>): init/finalize, rank and size, communicator split, non-blocking
/// point-to-point and collectives (every wait is bounded by polling <c>MPI_Test</c>), abort. Open MPI's handles are
/// pointers to predefined globals (MPI_COMM_WORLD is <c>&amp;ompi_mpi_comm_world</c>), read from the library once.
/// </summary>
internal static unsafe class MpiApi
{
    public const int ThreadSerialized = 2;
    public const int ThreadMultiple = 3;

    private const string Library = "libmpi.so.40";

    private static readonly Lazy<nint> Handle = new(() =>
    {
        foreach (var name in new[] { Library, "libmpi.so" })
            if (NativeLibrary.TryLoad(name, out var handle)) return handle;
        throw new DllNotFoundException("Open MPI's libmpi.so.40 was not found: install it (apt-get install openmpi-bin libopenmpi-dev) and start the ranks with mpirun.");
    });

    /// <summary>The address of one of Open MPI's predefined handles (a global variable of the library).</summary>
    private static nint Global(string symbol) => NativeLibrary.GetExport(Handle.Value, symbol);

    public static nint CommWorld => Global("ompi_mpi_comm_world");

    public static nint Float => Global("ompi_mpi_float");

    public static nint Int => Global("ompi_mpi_int");

    public static nint Int64 => Global("ompi_mpi_long_long_int");

    public static nint Sum => Global("ompi_mpi_op_sum");

    static MpiApi()
    {
        NativeLibrary.SetDllImportResolver(typeof(MpiApi).Assembly, (name, _, _) => name == Library ? Handle.Value : 0);
    }

    [DllImport(Library)] public static extern int MPI_Init_thread(int* argc, nint* argv, int required, int* provided);
    [DllImport(Library)] public static extern int MPI_Initialized(int* flag);
    [DllImport(Library)] public static extern int MPI_Finalized(int* flag);
    [DllImport(Library)] public static extern int MPI_Finalize();
    [DllImport(Library)] public static extern int MPI_Abort(nint comm, int errorCode);
    [DllImport(Library)] public static extern int MPI_Comm_rank(nint comm, int* rank);
    [DllImport(Library)] public static extern int MPI_Comm_size(nint comm, int* size);
    [DllImport(Library)] public static extern int MPI_Comm_split(nint comm, int color, int key, nint* newComm);
    [DllImport(Library)] public static extern int MPI_Comm_free(nint* comm);
    [DllImport(Library)] public static extern int MPI_Isend(void* buffer, int count, nint type, int destination, int tag, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Irecv(void* buffer, int count, nint type, int source, int tag, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Test(nint* request, int* flag, void* status);
    [DllImport(Library)] public static extern int MPI_Ibarrier(nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Iallgather(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Ialltoall(void* send, int sendCount, nint sendType, void* receive, int receiveCount, nint receiveType, nint comm, nint* request);
    [DllImport(Library)] public static extern int MPI_Ialltoallv(void* send, int* sendCounts, int* sendDisplacements, nint sendType,
        void* receive, int* receiveCounts, int* receiveDisplacements, nint receiveType, nint comm, nint* request);
}
