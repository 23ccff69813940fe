using System.Diagnostics;

namespace Tessera.Cpu;

/// <summary>
/// Runs every CPU kernel once on small made-up operands, so that the first request of a process does not pay for
/// compiling them. The hot kernels are marked AggressiveOptimization (tier-0 code of their vector loops would be many
/// times slower), so the JIT compiles each of them fully optimised at its first call, and each generic instantiation
/// separately: a 128-token prompt reaches GEMM tiles of 16, 32, 48 and 64 rows, a short warm-up prompt only the first.
/// Compiling them took a 24M model's first 128-token prefill from 20 to 30 ms.
/// </summary>
/// <remarks>
/// The operands are tiny (k = n = 64): what is paid is compilation, not arithmetic, so the cost does not grow with the
/// model, and it runs beside the loading of the weights (<see cref="Start"/>).
/// </remarks>
public static class KernelWarmUp
{
    private static readonly Lazy<Task<TimeSpan>> Once = new(() => Task.Run(() => Run(CpuExecution.AllCores)));

    /// <summary>
    /// The process's warm-up, started on a pool thread at the first call (later calls get the same task): a caller
    /// starts it before loading weights and waits for it after, so that compiling overlaps reading the checkpoint.
    /// Its result is the time the warm-up took.
    /// </summary>
    public static Task<TimeSpan> Start() => Once.Value;

    /// <summary>Runs the kernels once with <paramref name="cpu"/>'s threads; returns the time it took.</summary>
    public static TimeSpan Run(CpuExecution cpu)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        var clock = Stopwatch.StartNew();
        const int k = 64, n = 64, maxRows = 64;
        float[] x = Ramp(maxRows * k), y = new float[maxRows * n], weights = Ramp(n * k);
        Epilogue silu = (segment, _, _) => Activations.Silu(segment);
        foreach (var precision in new[] { WeightPrecision.F32, WeightPrecision.BF16 })
        {
            var w = WeightMatrix.Create(weights, n, k, precision);
            // Dot kernels of 1 to 4 rows (decode, batched decode) and GEMM tiles of 1 to 4 vectors (prompts).
            foreach (int rows in new[] { 1, 2, 3, 4, 5, 16, 32, 48, 64 })
            {
                CpuKernels.MatMul(cpu, x, rows, k, w, n, y);
                CpuKernels.MatMul(cpu, x, rows, k, w, n, y, silu);
            }
        }

        float[] gain = Ramp(k), bias = Ramp(k), normed = new float[maxRows * k];
        CpuKernels.RmsNorm(cpu, x, gain, normed, maxRows, k, 1e-5f);
        CpuKernels.LayerNorm(cpu, x, gain, bias, normed, maxRows, k, 1e-5f);
        Activations.Silu(normed.AsSpan(0, k));
        Activations.Gelu(normed.AsSpan(0, k));
        Activations.Softmax(normed.AsSpan(0, k), 0.125f);
        Elementwise.Add(normed.AsSpan(0, k), x.AsSpan(0, k));
        Elementwise.Multiply(normed.AsSpan(0, k), x.AsSpan(0, k));
        WarmAttention(cpu);
        return clock.Elapsed;
    }

    /// <summary>A 64-token prompt (the prompt path's products), then one token for it beside a second sequence's first.</summary>
    private static void WarmAttention(CpuExecution cpu)
    {
        const int heads = 4, kvHeads = 2, headDim = 16, prompt = 64;
        const int width = heads * headDim, kvWidth = kvHeads * headDim;
        var first = new KvCache(1, 128, kvWidth);
        var second = new KvCache(1, 128, kvWidth);
        var batches = new[]
        {
            TokenBatch.ForSequence(first, new int[prompt]),
            TokenBatch.ForSequences([first, second], [[0], [0]]),
        };
        foreach (var batch in batches)
        {
            int rows = batch.Rows;
            float[] q = Ramp(rows * width), keys = Ramp(rows * kvWidth), values = Ramp(rows * kvWidth), output = new float[rows * width];
            CpuKernels.Rope(cpu, q, rows, heads, headDim, batch.Positions, 10000f);
            CpuKernels.Rope(cpu, keys, rows, kvHeads, headDim, batch.Positions, 10000f);
            CpuKernels.AppendKv(keys, values, batch, 0, kvWidth);
            CpuKernels.Attention(cpu, q, output, batch, 0, heads, kvHeads, headDim);
            batch.Commit();
        }
    }

    /// <summary>Small distinct values (no zeros, nothing that overflows).</summary>
    private static float[] Ramp(int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = ((i * 37) % 101 - 50) / 500f;
        return values;
    }
}
