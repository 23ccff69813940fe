using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace Tessera.Benchmarks;

/// <summary>
/// The default config (loggers, exporters, columns) with short runs: 3 warm-ups, 5 measured iterations, one launch,
/// so the whole kernel suite finishes in minutes; the kernels are long enough per call that the spread stays small.
/// Adds the GFLOP/s column.
/// </summary>
public static class ShortKernelConfig
{
    public static IConfig Create() =>
        DefaultConfig.Instance
            .AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5).WithId("Short").AsDefault())
            .AddColumn(new GflopsColumn())
            .WithOptions(ConfigOptions.JoinSummary);
}
