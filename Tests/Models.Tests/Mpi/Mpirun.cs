using System.Diagnostics;
using System.Text;

namespace Tessera.Models.Tests.Mpi;

/// <summary>
/// The MPI tests start real jobs (mpirun, one <c>tessera</c> process per rank, oversubscribed on however few cores the
/// machine has), so they run alone, never beside another collection's work.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MpiCollection
{
    public const string Name = "tessera under mpirun (one process per rank)";
}

/// <summary>A fact that needs Open MPI's mpirun: skipped, with the reason, where it is missing; CI (TESSERA_REQUIRE_MPI=1) installs it, and there a missing mpirun fails.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute()
    {
        if (Mpirun.SkipReason is { } reason) Skip = reason;
    }
}

/// <inheritdoc cref="MpiFactAttribute"/>
public sealed class MpiTheoryAttribute : TheoryAttribute
{
    public MpiTheoryAttribute()
    {
        if (Mpirun.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>What one mpirun job returned and printed, and how long it took.</summary>
internal sealed record MpiResult(int ExitCode, string Out, string Error, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout ---\n{Out}\n--- stderr ---\n{Error}";
}

/// <summary>Runs <c>tessera</c> under mpirun: <c>mpirun -np N --oversubscribe dotnet tessera.dll ...</c>, as a user would.</summary>
internal static class Mpirun
{
    private static readonly Lazy<string?> Executable = new(() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "mpirun")).FirstOrDefault(File.Exists));

    public static string? SkipReason =>
        Executable.Value is null && Environment.GetEnvironmentVariable("TESSERA_REQUIRE_MPI") != "1"
            ? "no mpirun: install Open MPI (apt-get install openmpi-bin libopenmpi-dev) to run plans as processes"
            : null;

    /// <summary>The CLI next to the tests (the test project references it).</summary>
    public static string Tessera => Path.Combine(AppContext.BaseDirectory, "tessera.dll");

    /// <summary>Starts a job; stdout and stderr are collected as they come (read them with <see cref="Job.Output"/>).</summary>
    /// <param name="quiet">mpirun -q: no help messages of its own (a failing rank's reason is ours alone)</param>
    public static Job Start(int processes, string[] args, IReadOnlyDictionary<string, string>? environment = null, bool quiet = true)
    {
        var info = new ProcessStartInfo(Executable.Value ?? throw new InvalidOperationException(SkipReason ?? "mpirun is not on the PATH (TESSERA_REQUIRE_MPI=1)."))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (quiet) info.ArgumentList.Add("-q");
        foreach (var a in new[] { "-np", processes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe" }) info.ArgumentList.Add(a);
        // Containers run tests as root, which mpirun refuses unless told; shared memory without the single-copy
        // mechanism works where ptrace between processes is not allowed.
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        info.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
            info.ArgumentList.Add("-x");
            info.ArgumentList.Add(key);
        }
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(Tessera);
        foreach (var a in args) info.ArgumentList.Add(a);
        return new Job(Process.Start(info)!);
    }

    /// <summary>Runs a job to its end (killed, and failed, past <paramref name="timeout"/>).</summary>
    public static MpiResult Run(int processes, TimeSpan timeout, params string[] args) => Run(processes, timeout, null, args);

    public static MpiResult Run(int processes, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        using var job = Start(processes, args, environment);
        return job.WaitForExit(timeout);
    }

    /// <summary>A running mpirun and everything it has printed so far.</summary>
    internal sealed class Job : IDisposable
    {
        private readonly StringBuilder _out = new(), _error = new();
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public Job(Process process)
        {
            Process = process;
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_out) _out.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_error) _error.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            process.StandardInput.Close();
        }

        public Process Process { get; }

        public (string Out, string Error) Output
        {
            get
            {
                lock (_out) lock (_error) return (_out.ToString(), _error.ToString());
            }
        }

        /// <summary>Waits until stderr holds a line containing <paramref name="text"/>; fails if the job ends or the time runs out first.</summary>
        public string WaitForError(string text, TimeSpan timeout)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < timeout)
            {
                var line = Output.Error.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
                if (line is not null) return line.TrimEnd('\r');
                if (Process.HasExited) break;
                Thread.Sleep(50);
            }
            throw new Xunit.Sdk.XunitException($"no \"{text}\" on stderr after {clock.Elapsed.TotalSeconds:F0} s\n{Result()}");
        }

        /// <summary>The processes mpirun started, by rank (its direct children that carry OMPI_COMM_WORLD_RANK).</summary>
        public int PidOfRank(int rank)
        {
            foreach (var dir in Directory.GetDirectories("/proc").Where(d => Path.GetFileName(d).All(char.IsAsciiDigit)))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    int parent = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
                    if (parent != Process.Id) continue;
                    var environment = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                    if (environment.Contains($"OMPI_COMM_WORLD_RANK={rank}")) return int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                    // The process ended while we looked.
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
            throw new Xunit.Sdk.XunitException($"mpirun (pid {Process.Id}) has no child process of rank {rank}\n{Result()}");
        }

        /// <summary>Waits for mpirun to end; past <paramref name="timeout"/> kills the whole job and fails.</summary>
        public MpiResult WaitForExit(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout))
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
                throw new Xunit.Sdk.XunitException($"mpirun was still running after {timeout.TotalSeconds:F0} s: a hang\n{Result()}");
            }
            Process.WaitForExit(); // the end of the redirected streams
            return Result();
        }

        private MpiResult Result()
        {
            var (output, error) = Output;
            return new MpiResult(Process.HasExited ? Process.ExitCode : -1, output, error, _clock.Elapsed);
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit();
            }
            Process.Dispose();
        }
    }
}
