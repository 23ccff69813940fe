using System.Globalization;
using Tessera.Checkpoints;
using Tessera.Models;
using Tessera.Parallelism;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// The GPU back end's correctness checks as one command, for the GPU machine, which has no .NET SDK to run the
/// [GpuFact] tests (Benchmarks/gpu/run.sh calls it before timing anything): every bundled fixture (one per model
/// family) on one device, shape-generic and, where a [Compile] unit exists, specialised, prefill and token-by-token
/// decode logits against the reference (fp32 within 1e-4, a bf16 prefill within 5e-2) and the greedy continuation;
/// then a tp2 x pp2 plan on four virtual devices against one device. One line per
/// check; exit code 1 when any fails. <c>gpu-check ilgpu-cpu</c> runs the same on ILGPU's CPU accelerator (CI does,
/// so the script is known to work before a GPU runs it).
/// </summary>
public static class GpuCheck
{
    public static int Run(string[] args)
    {
        var device = args.Length > 0 && args[0] == "ilgpu-cpu" ? DeviceKind.IlgpuCpu : DeviceKind.Cuda;
        int failures = 0;
        void Check(string name, bool passed, string detail)
        {
            Console.WriteLine($"{(passed ? "pass" : "FAIL")}  {name}: {detail}");
            if (!passed) failures++;
        }

        foreach (string directory in Directory.GetDirectories(Path.GetDirectoryName(EngineCatalog.Bundled("tiny-llama"))!)
                     .Where(d => File.Exists(Path.Combine(d, "reference.safetensors"))).Order(StringComparer.Ordinal))
        {
            string fixture = Path.GetFileName(directory);
            var (tokens, reference, greedy) = LoadReference(directory);
            foreach (var kind in SpecialisedUnits.Contains(fixture) ? [EngineKind.Generic, EngineKind.Specialised] : new[] { EngineKind.Generic })
            {
                var engine = EngineCatalog.Open(directory, kind, null, device);
                try
                {
                    double error = RelativeError(engine.Forward(TokenBatch.ForSequence(engine.CreateCache(), tokens)), reference);
                    Check($"{fixture} {kind} f32 prefill on {device}", error <= 1e-4, $"max|a-b|/max|ref| = {error:E2}");
                    var cache = engine.CreateCache();
                    var stepped = new List<float>();
                    foreach (int token in tokens) stepped.AddRange(engine.Forward(TokenBatch.ForSequence(cache, [token])));
                    error = RelativeError(stepped.ToArray(), reference);
                    Check($"{fixture} {kind} f32 token-by-token decode on {device}", error <= 1e-4, $"max|a-b|/max|ref| = {error:E2}");
                    var continuation = GreedyDecoder.Generate(engine, tokens, greedy.Length).Tokens;
                    Check($"{fixture} {kind} greedy decode on {device}", continuation.SequenceEqual(greedy), string.Join(",", continuation));
                }
                finally
                {
                    (engine as IDisposable)?.Dispose();
                }
            }

            var bf16 = EngineCatalog.Open(directory, EngineKind.Generic, new ParallelPlan { Precision = Tessera.Cpu.WeightPrecision.BF16 }, device);
            using (bf16 as IDisposable)
            {
                double error = RelativeError(bf16.Forward(TokenBatch.ForSequence(bf16.CreateCache(), tokens)), reference);
                // A bf16 prefill rounds the activations to bf16 as well as the weights (bf16 tensor cores): ~1e-2 each
                // on tiny-llama, and the bf16 weights alone move tiny-gemma3's logits by 2.3e-2 on the CPU. A wrong
                // layout or scale is off by O(1).
                Check($"{fixture} bf16 prefill on {device}", error <= 5e-2, $"max|a-b|/max|ref| = {error:E2}");
            }

            var one = EngineCatalog.Open(directory, EngineKind.Generic, null, device);
            var plan = EngineCatalog.Open(directory, EngineKind.Generic, new ParallelPlan(Tensor: 2, Pipeline: 2, MicroBatches: 2), device);
            using (one as IDisposable)
            using (plan as IDisposable)
            {
                int[][] prompts = [tokens[..9], tokens[2..21], tokens];
                float[] a = one.Forward(TokenBatch.ForSequences(prompts.Select(_ => one.CreateCache()).ToArray(), prompts));
                float[] b = plan.Forward(TokenBatch.ForSequences(prompts.Select(_ => plan.CreateCache()).ToArray(), prompts));
                double error = RelativeError(b, a);
                Check($"{fixture} tp2 x pp2 on 4 virtual devices = one device", error <= 1e-4, $"max|a-b|/max|ref| = {error:E2}");
            }
        }
        Console.WriteLine(failures == 0 ? "gpu-check: all passed" : $"gpu-check: {failures} failed");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The fixtures Models/Architectures/Specialised.cs compiles single-device [Compile] units for.</summary>
    private static readonly HashSet<string> SpecialisedUnits = ["tiny-llama", "tiny-gpt2", "tiny-mixtral", "tiny-qwen3", "tiny-gemma2"];

    private static (int[] Tokens, float[] Logits, int[] Greedy) LoadReference(string directory)
    {
        using var file = SafetensorsFile.Open(Path.Combine(directory, "reference.safetensors"));
        return (file.ReadInt32("tokens"), file.ReadFloats("logits"), file.ReadInt32("greedy"));
    }

    /// <summary>max |a - b| / max |ref|, the fixtures' acceptance metric; infinite when the lengths differ.</summary>
    private static double RelativeError(float[] actual, float[] reference)
    {
        if (actual.Length != reference.Length) return double.PositiveInfinity;
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxDiff / maxRef;
    }
}
