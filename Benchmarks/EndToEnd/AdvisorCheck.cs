using System.Globalization;
using Tessera.Models;
using Tessera.Parallelism;
using Tessera.Planning;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// The advisor's model against reality: this machine is measured (<see cref="CpuCalibration"/>: FLOP/s, weight-streaming
/// bandwidth, in-process collective latency and bandwidth), each plan on its CPU virtual devices is predicted with that
/// device (1/N of the machine each) and then run, and predicted and measured prefill and decode tokens/s and bubble are
/// printed side by side with the error.
/// </summary>
public static class AdvisorCheck
{
    public static void Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        string directory = args.Length > 0 && args[0] != "medium" ? (Directory.Exists(args[0]) ? args[0] : EngineCatalog.Bundled(args[0])) : RandomLlamaCheckpoint.Medium();
        int sequences = args.Length > 1 ? int.Parse(args[1], inv) : 8;
        int prompt = args.Length > 2 ? int.Parse(args[2], inv) : 64;
        int steps = args.Length > 3 ? int.Parse(args[3], inv) : 16;
        var facts = EngineCatalog.Facts(directory);
        var calibration = CpuCalibration.Measure();
        Console.WriteLine(string.Create(inv,
            $"{facts.ModelName} ({directory}): {sequences} sequences x {prompt} prompt tokens, then {steps} decode steps, F32; {Environment.ProcessorCount} cores"));
        Console.WriteLine(string.Create(inv,
            $"calibration: {calibration.Flops / 1e9:F0} GFLOP/s, {calibration.BandwidthBytesPerSecond / 1e9:F1} GB/s weights, in-process all-reduce {calibration.LinkLatencySeconds * 1e6:F0} us + {calibration.LinkBandwidthBytesPerSecond / 1e9:F1} GB/s"));
        Console.WriteLine($"{"plan",-16} {"prefill tok/s",26} {"decode tok/s",26} {"bubble",18}");
        Console.WriteLine($"{"",-16} {"predicted measured error",26} {"predicted measured error",26} {"predicted measured",18}");

        var random = new Random(11);
        int[][] prompts = Enumerable.Range(0, sequences).Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(facts.VocabSize)).ToArray()).ToArray();
        var errors = new List<double>();
        foreach (var plan in new[] { new ParallelPlan(), new ParallelPlan(Data: 2), new ParallelPlan(Tensor: 2), new ParallelPlan(Pipeline: 2, MicroBatches: 4), new ParallelPlan(Sequence: 2) })
        {
            if (plan.Validate(facts).Count > 0) continue;
            var workload = new Workload(sequences, prompt, steps + 1, PlanDType.F32, PlanDType.F32);
            var cluster = new Cluster(calibration.AsDevice(plan.DeviceCount), plan.DeviceCount, plan.DeviceCount, UsableMemoryFraction: 1);
            var predicted = new PlanPredictor(facts, cluster, workload).Predict(plan);
            double predictedPrefill = (double)sequences * prompt / predicted.TtftSeconds, predictedDecode = sequences / predicted.TpotSeconds;

            var engine = EngineCatalog.Open(directory, EngineKind.Generic, plan == new ParallelPlan() ? null : plan);
            try
            {
                BatchedGeneration.Measure(engine, prompts[..Math.Min(2, sequences)].Select(p => p[..Math.Min(8, p.Length)]).ToArray(), 2); // warm-up
                var (prefill, decode) = BatchedGeneration.Measure(engine, prompts, steps);
                double bubble = engine is ParallelEngine parallel && parallel.LastTrace is { } trace ? trace.IdleFraction : 0;
                double prefillError = predictedPrefill / prefill - 1, decodeError = predictedDecode / decode - 1;
                errors.Add(Math.Abs(prefillError));
                errors.Add(Math.Abs(decodeError));
                Console.WriteLine(string.Create(inv,
                    $"{plan.ToString().Split(" (")[0],-16} {predictedPrefill,9:F0} {prefill,8:F0} {prefillError,7:+0%;-0%} {predictedDecode,9:F0} {decode,8:F0} {decodeError,7:+0%;-0%} {predicted.Bubble,9:P0} {bubble,8:P0}"));
            }
            finally
            {
                (engine as IDisposable)?.Dispose();
            }
        }
        Console.WriteLine(string.Create(inv, $"mean |error| {errors.Average():P0}, largest {errors.Max():P0} (prediction / measurement - 1)"));
    }
}
