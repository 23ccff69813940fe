using System.Diagnostics;
using System.Globalization;
using Tessera.Models;
using Tessera.Mpi;
using Tessera.Parallelism;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// Ranks as threads of one process against ranks as processes under mpirun, on the same machine, model and batch, in
/// one sitting: tokens/s of dp2, pp2 and tp2 (the driver measures in-process, then starts
/// <c>mpirun -np 2 ... mpi-rank</c> and reads rank 0's figures), and the transport itself: all-reduce latency and
/// bandwidth for 4 KiB, 1 MiB and 16 MiB between two ranks, in-process and over MPI (Tessera's rank-order sum and
/// MPI_Allreduce).
/// </summary>
public static class MultiProcessThroughput
{
    private static readonly int[] MessageBytes = [4 << 10, 1 << 20, 16 << 20];

    private static readonly (string Name, ParallelPlan? Plan, string Flags)[] Plans =
    [
        ("single device", null, ""),
        ("dp2", new ParallelPlan(Data: 2), "--dp 2"),
        ("pp2, m=4", new ParallelPlan(Pipeline: 2, MicroBatches: 4), "--pp 2 -m 4"),
        ("tp2", new ParallelPlan(Tensor: 2), "--tp 2"),
    ];

    /// <summary>The driver: <c>mpi [DIR|medium] [sequences] [prompt] [steps]</c>.</summary>
    public static void Run(string[] args)
    {
        string directory = args.Length > 0 && args[0] != "medium" ? args[0] : RandomLlamaCheckpoint.Medium();
        int sequences = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 8;
        int prompt = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        int steps = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 16;
        var facts = EngineCatalog.Facts(directory);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{facts.ModelName} ({directory}), {sequences} sequences x {prompt} prompt tokens, then {steps} decode steps; {Environment.ProcessorCount} cores"));
        Console.WriteLine($"{"plan",-16} {"in-process prefill",19} {"decode",9} {"mpirun prefill",15} {"decode",9} {"ratio prefill",14} {"decode",7}  (tokens/s; ratio = processes / threads)");
        foreach (var (name, plan, flags) in Plans)
        {
            var (prefill, decode) = Measure(directory, plan, sequences, prompt, steps);
            if (plan is null)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-16} {prefill,19:F1} {decode,9:F1}"));
                continue;
            }
            var (mpiPrefill, mpiDecode) = MeasureUnderMpirun(plan.DeviceCount, directory, flags, sequences, prompt, steps);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-16} {prefill,19:F1} {decode,9:F1} {mpiPrefill,15:F1} {mpiDecode,9:F1} {mpiPrefill / prefill,14:F2} {mpiDecode / decode,7:F2}"));
        }

        Console.WriteLine();
        Console.WriteLine("all-reduce of float32 between 2 ranks: latency (us) and algorithm bandwidth (bytes / time, GB/s; = bus bandwidth for 2 ranks)");
        Console.WriteLine($"{"message",-10} {"in-process",16} {"MPI rank-order",18} {"MPI_Allreduce",18}");
        var inProcess = InProcessAllReduce();
        var mpi = RunUnderMpirun(2, ["mpi-allreduce"]).Where(l => l.StartsWith("ALLREDUCE ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).ToDictionary(w => int.Parse(w[1], CultureInfo.InvariantCulture),
                w => (Ours: double.Parse(w[2], CultureInfo.InvariantCulture), Mpi: double.Parse(w[3], CultureInfo.InvariantCulture)));
        foreach (int bytes in MessageBytes)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Size(bytes),-10} {Cell(bytes, inProcess[bytes]),16} {Cell(bytes, mpi[bytes].Ours),18} {Cell(bytes, mpi[bytes].Mpi),18}"));
    }

    /// <summary>Under mpirun: <c>mpi-rank DIR FLAGS sequences prompt steps</c>; rank 0 prints <c>RESULT prefill decode</c>.</summary>
    public static void RunRank(string[] args)
    {
        var plan = ParsePlan(args[1]);
        var (prefill, decode) = Measure(args[0], plan, int.Parse(args[2], CultureInfo.InvariantCulture),
            int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT {prefill:R} {decode:R}"));
    }

    /// <summary>Under mpirun with 2 processes: prints <c>ALLREDUCE bytes ours-seconds mpi-seconds</c> per message size.</summary>
    public static void RunAllReduce()
    {
        var world = MpiWorld.World;
        var group = new MpiGroup(world);
        foreach (int bytes in MessageBytes)
        {
            var data = new float[bytes / sizeof(float)];
            double ours = Time(bytes, () => group.AllReduceSum(data, data.Length), () => world.Barrier());
            double mpi = Time(bytes, () => world.AllReduceSum(data), () => world.Barrier());
            if (world.Rank == 0) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ALLREDUCE {bytes} {ours:R} {mpi:R}"));
        }
        MpiWorld.Close();
    }

    private static (double Prefill, double Decode) Measure(string directory, ParallelPlan? plan, int sequences, int prompt, int steps)
    {
        var facts = EngineCatalog.Facts(directory);
        prompt = Math.Min(prompt, facts.ContextLength - steps);
        var random = new Random(11);
        int[][] prompts = Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan);
        try
        {
            BatchedGeneration.Measure(engine, prompts[..Math.Min(2, sequences)].Select(p => p[..Math.Min(8, p.Length)]).ToArray(), 2); // warm-up
            // The best of 3 runs: the first still pays for JIT compilation, which a process bound to one core does on that core.
            var runs = Enumerable.Range(0, 3).Select(_ => BatchedGeneration.Measure(engine, prompts, steps)).ToArray();
            return (runs.Max(r => r.Prefill), runs.Max(r => r.Decode));
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    private static (double Prefill, double Decode) MeasureUnderMpirun(int processes, string directory, string flags, int sequences, int prompt, int steps)
    {
        var result = RunUnderMpirun(processes, ["mpi-rank", directory, flags, sequences.ToString(CultureInfo.InvariantCulture),
            prompt.ToString(CultureInfo.InvariantCulture), steps.ToString(CultureInfo.InvariantCulture)]).Single(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Split(' ');
        return (double.Parse(result[1], CultureInfo.InvariantCulture), double.Parse(result[2], CultureInfo.InvariantCulture));
    }

    /// <summary>Runs this benchmark assembly under <c>mpirun -np N</c> and returns its stdout lines.</summary>
    private static string[] RunUnderMpirun(int processes, string[] args)
    {
        var info = new ProcessStartInfo("mpirun") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-q", "-np", processes.ToString(CultureInfo.InvariantCulture), "--oversubscribe", "dotnet", typeof(MultiProcessThroughput).Assembly.Location })
            info.ArgumentList.Add(a);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        info.Environment["TERM"] = "dumb"; // no terminal escape codes before rank 0's lines (mpirun gives it a terminal)
        using var process = Process.Start(info)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"mpirun -np {processes} {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Two worker threads, one in-process group: the transport the in-process engine uses.</summary>
    private static Dictionary<int, double> InProcessAllReduce()
    {
        var results = new Dictionary<int, double>();
        foreach (int bytes in MessageBytes)
        {
            var group = new InProcessGroup(2);
            var barrier = new Barrier(2);
            var seconds = new double[2];
            var threads = Enumerable.Range(0, 2).Select(r => new Thread(() =>
            {
                var data = new float[bytes / sizeof(float)];
                seconds[r] = Time(bytes, () => group[r].AllReduceSum(data, data.Length), () => barrier.SignalAndWait());
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            results[bytes] = seconds[0];
        }
        return results;
    }

    /// <summary>Seconds per call, the best of 5 rounds of enough calls to take ~0.2 s (the ranks start each round together).</summary>
    private static double Time(int bytes, Action allReduce, Action barrier)
    {
        int calls = Math.Clamp((int)(200e6 / Math.Max(bytes, 1 << 14)), 4, 2000);
        for (int i = 0; i < Math.Min(calls, 20); i++) allReduce(); // warm-up
        double best = double.MaxValue;
        for (int round = 0; round < 5; round++)
        {
            barrier();
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < calls; i++) allReduce();
            best = Math.Min(best, clock.Elapsed.TotalSeconds / calls);
        }
        return best;
    }

    private static string Cell(int bytes, double seconds) =>
        string.Create(CultureInfo.InvariantCulture, $"{seconds * 1e6,8:F1} us {bytes / seconds / 1e9,5:F2}");

    private static string Size(int bytes) => bytes >= 1 << 20 ? $"{bytes >> 20} MiB" : $"{bytes >> 10} KiB";

    private static ParallelPlan ParsePlan(string flags)
    {
        var plan = new ParallelPlan();
        var words = flags.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 1 < words.Length; i += 2)
        {
            int value = int.Parse(words[i + 1], CultureInfo.InvariantCulture);
            plan = words[i] switch
            {
                "--dp" => plan with { Data = value },
                "--pp" => plan with { Pipeline = value },
                "--tp" => plan with { Tensor = value },
                "-m" => plan with { MicroBatches = value },
                _ => throw new ArgumentException($"unknown plan flag {words[i]}"),
            };
        }
        return plan;
    }
}
