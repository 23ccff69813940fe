using BenchmarkDotNet.Attributes;
using Tessera.Cpu;

namespace Tessera.Benchmarks.Kernels;

/// <summary>
/// CpuKernels.Attention: one decode row against a long cache, and a 128-token prefill, for MHA (12/12 heads) and
/// GQA (32/8 heads, d = 128 as in Llama). Each invocation re-writes the same cache positions, so the cache never grows.
/// The flop count is the two products, 4·d per (query head, cached position).
/// </summary>
public class AttentionBenchmarks : IFlopCount
{
    private float[] _q = [], _k = [], _v = [], _out = [];
    private TokenBatch _batch = null!;
    private int _heads, _kvHeads, _headDim;

    [Params("12/12x64", "32/8x128")]
    public string Heads { get; set; } = "12/12x64";

    /// <summary>"decode@N": one new row after N cached positions; "prefill128": 128 rows into an empty cache.</summary>
    [Params("decode@4096", "prefill128")]
    public string Case { get; set; } = "decode@4096";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private (int Heads, int KvHeads, int HeadDim) Layout
    {
        get
        {
            var parts = Heads.Split('/', 'x');
            return (int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]));
        }
    }

    private (int Cached, int Rows) Tokens => Case == "prefill128" ? (0, 128) : (int.Parse(Case["decode@".Length..]), 1);

    public double Flops
    {
        get
        {
            var (heads, _, d) = Layout;
            var (cached, rows) = Tokens;
            double positions = 0;
            for (int r = 0; r < rows; r++) positions += cached + r + 1;
            return 4.0 * d * heads * positions;
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        var (heads, kvHeads, d) = Layout;
        var (cached, rows) = Tokens;
        var random = new Random(2);
        var cache = new KvCache(1, cached + rows, kvHeads * d);
        if (cached > 0)
        {
            // Fill the cache with a prefix written by the kernel itself, then measure the next rows.
            var prefix = TokenBatch.ForSequence(cache, new int[cached]);
            var pq = MatMulBenchmarks.Random(random, cached * heads * d);
            var pk = MatMulBenchmarks.Random(random, cached * kvHeads * d);
            CpuKernels.AppendKv(pk, MatMulBenchmarks.Random(random, cached * kvHeads * d), prefix, 0, kvHeads * d);
            CpuKernels.Attention(CpuExecution.AllCores, pq, new float[cached * heads * d], prefix, 0, heads, kvHeads, d);
            prefix.Commit();
        }
        _batch = TokenBatch.ForSequence(cache, new int[rows]);
        _q = MatMulBenchmarks.Random(random, rows * heads * d);
        _k = MatMulBenchmarks.Random(random, rows * kvHeads * d);
        _v = MatMulBenchmarks.Random(random, rows * kvHeads * d);
        _out = new float[rows * heads * d];
        // The measured rows' keys and values are cached once: the benchmark times attention, not the cache write.
        CpuKernels.AppendKv(_k, _v, _batch, 0, kvHeads * d);
        (_heads, _kvHeads, _headDim) = (heads, kvHeads, d);
        _cpu = new CpuExecution(Threads);
    }

    private CpuExecution _cpu = CpuExecution.AllCores;

    [Benchmark]
    public void Attention() => CpuKernels.Attention(_cpu, _q, _out, _batch, 0, _heads, _kvHeads, _headDim);
}
