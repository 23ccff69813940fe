using System.Globalization;
using Tessera.Models;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// The GPU workloads of Benchmarks/gpu/run.sh on one CUDA device: a prefill of 8 x 512 tokens, and decode at batch 1
/// and 16. Prints one JSON line per workload so the script can put them next to PyTorch's figures.
/// </summary>
public static class GpuThroughput
{
    public static void Run(string[] args)
    {
        string directory = args[0];
        // Weights as the checkpoint's bf16 (GEMV kernel for decode, TF32 products for prefill) or widened to f32 (cuBLAS sgemm).
        var precision = args.Length > 1 && args[1].Equals("f32", StringComparison.OrdinalIgnoreCase) ? Tessera.Cpu.WeightPrecision.F32 : Tessera.Cpu.WeightPrecision.BF16;
        var engine = EngineCatalog.Open(directory, EngineKind.Generic, new Tessera.Parallelism.ParallelPlan { Precision = precision }, DeviceKind.Cuda);
        try
        {
            var random = new Random(3);
            int vocab = engine.Shape.VocabSize;
            int[] Prompt(int length) => Enumerable.Range(0, length).Select(_ => random.Next(vocab)).ToArray();

            // Warm-up: compiles (or loads from the kernel cache) and uploads the weights.
            BatchedGeneration.Measure(engine, Enumerable.Range(0, 2).Select(_ => Prompt(16)).ToArray(), 2);

            int[][] prefill = Enumerable.Range(0, 8).Select(_ => Prompt(512)).ToArray();
            var (prefillRate, _) = BatchedGeneration.Measure(engine, prefill, 0);
            Report("prefill_8x512", prefillRate);
            foreach (int batch in new[] { 1, 16 })
            {
                var (_, decodeRate) = BatchedGeneration.Measure(engine, Enumerable.Range(0, batch).Select(_ => Prompt(32)).ToArray(), 64);
                Report($"decode_batch{batch}", decodeRate);
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"workload\":\"weight_bytes\",\"value\":{engine.WeightBytes}}}"));
        }
        finally
        {
            (engine as IDisposable)?.Dispose();
        }
    }

    private static void Report(string workload, double tokensPerSecond) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"workload\":\"{workload}\",\"tokens_per_second\":{tokensPerSecond:F1}}}"));
}
