using ILGPU;
using ILGPU.Runtime;
using Tessera.Cpu;
using Tessera.Gpu;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Gpu;

/// <summary>
/// A GPU stage on ILGPU's CPU accelerator, where virtual devices share one accelerator as they share one GPU:
/// all-reduce, logit gathers and stage activations stay on the device; its products (fp32, bf16 GEMV for decode
/// rows, bf16 x bf16 above) match the CPU; its KV-cache pool reuses the slots of dropped sequences and keeps what it
/// holds when it grows; and the group reductions the kernels build on are exact.
/// </summary>
public sealed class GpuStageTests
{
    private static GpuStage NewStage(int rank = 0, int layers = 0, int kvWidth = 1) => new(GpuDevice.OpenCpu(rank), layers, kvWidth);

    /// <summary>A tensor group whose host collectives fail: anything that passes through it stayed on the device.</summary>
    private sealed class DeviceOnly(ICollectiveGroup inner) : ICollectiveGroup
    {
        public int Rank => inner.Rank;
        public int Size => inner.Size;
        public long BytesSent => inner.BytesSent;
        public void AllReduceSum(float[] data, int count) => throw new InvalidOperationException("went through host memory");
        public void AllGatherColumns(float[] local, int rows, int localWidth, float[] full) => throw new InvalidOperationException("went through host memory");
        public void Barrier() => inner.Barrier();
        public IReadOnlyList<IDevicePayload> ExchangeDevice(IDevicePayload mine, long bytes) => inner.ExchangeDevice(mine, bytes);
        public float[][] AllToAll(float[][] send) => throw new InvalidOperationException("went through host memory");
    }

    /// <summary>Every rank at once on its own thread; generous, as the first launch on an accelerator compiles its kernels.</summary>
    private static void OnEveryRank(int ranks, Action<int> body) => Parallelism.Ranks.Run(ranks, body, TimeSpan.FromSeconds(120));

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1f, Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    private static float[] CpuXWt(float[] x, float[] w, int rows, int n, int k)
    {
        var y = new float[rows * n];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < n; c++)
            {
                double sum = 0;
                for (int i = 0; i < k; i++) sum += (double)x[r * k + i] * w[c * k + i];
                y[r * n + c] = (float)sum;
            }
        return y;
    }

    [Fact]
    public void AllReduce_OnOneAccelerator_SumsEveryRanksPartial_OnTheDevice_IdenticallyOnEveryRank()
    {
        const int ranks = 3, count = 1000;
        using var group = new InProcessGroup(ranks);
        var results = new float[ranks][];
        OnEveryRank(ranks, r =>
        {
            using var stage = NewStage(r);
            var partial = Enumerable.Range(0, count).Select(i => (r + 1) * 0.1f + i * 1e-3f * (r + 1)).ToArray();
            for (int call = 0; call < 3; call++) // repeated calls reuse the scratch: each must see fresh partials
            {
                var y = stage.Floats("partial", partial, count);
                stage.AllReduce(y, count, new DeviceOnly(group[r]));
                results[r] = stage.Download(y, count);
            }
        });
        var expected = Enumerable.Range(0, count).Select(i => ((0.1f + i * 1e-3f) + (0.2f + i * 2e-3f)) + (0.3f + i * 3e-3f)).ToArray();
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(results[0], results[r]); // bit-identical replicas
            AssertClose(expected, results[r], 1e-6f);
        }
        Assert.Equal(3L * ranks * (ranks - 1) * count * sizeof(float), group.BytesSent); // each rank reads every peer's partial once per call
    }

    [Fact]
    public void Logits_OfAVocabShardedHead_GatherEveryRanksColumns_OnTheDevice()
    {
        const int ranks = 2, rows = 3, width = 5;
        using var group = new InProcessGroup(ranks);
        var results = new float[ranks][];
        OnEveryRank(ranks, r =>
        {
            using var stage = NewStage(r);
            var local = Enumerable.Range(0, rows * width).Select(i => 100f * r + i).ToArray();
            results[r] = stage.Logits(stage.Floats("local", local, local.Length), rows, width, new DeviceOnly(group[r]));
        });
        var expected = new float[rows * width * ranks];
        for (int row = 0; row < rows; row++)
            for (int r = 0; r < ranks; r++)
                for (int c = 0; c < width; c++) expected[row * width * ranks + r * width + c] = 100f * r + row * width + c;
        Assert.Equal(expected, results[0]);
        Assert.Equal(expected, results[1]);
    }

    [Fact]
    public void StageActivations_PassAsDeviceBuffers_WhichTheSenderReuses()
    {
        using var link = new InProcessStageLink(capacity: 2);
        using var sender = NewStage(0);
        using var receiver = NewStage(1);
        for (int step = 0; step < 3; step++)
        {
            var data = Enumerable.Range(0, 64).Select(i => step * 1000f + i).ToArray();
            sender.SendActivations(link, sender.Floats("out", data, data.Length), data.Length);
            var input = receiver.ReceiveActivations(link, data.Length);
            Assert.Equal(data, receiver.Download(input, data.Length));
        }
        Assert.Equal(3L * 64 * sizeof(float), link.BytesSent);
    }

    [Fact]
    public void ReceiveActivations_NamesAShapeMismatch()
    {
        using var link = new InProcessStageLink();
        using var stage = NewStage();
        stage.SendActivations(link, stage.Floats("out", new float[8], 8), 8);
        var e = Assert.Throws<InvalidOperationException>(() => stage.ReceiveActivations(link, 16));
        Assert.Contains("8 floats on ilgpu-cpu:0", e.Message);
    }

    [Fact]
    public void LogitRowsOf_GathersTheWantedRows()
    {
        using var stage = NewStage();
        const int width = 3;
        var hidden = stage.Floats("hidden", Enumerable.Range(0, 4 * width).Select(i => (float)i).ToArray(), 4 * width);
        var batch = TokenBatch.ForSequences([KvCache.CreateHandle(16), KvCache.CreateHandle(16)], [[1, 2], [3, 4]], lastLogitsOnly: true);
        Assert.False(batch.AllLogitRows);
        var rows = stage.LogitRowsOf(hidden, batch, width);
        var expected = batch.LogitRows.SelectMany(r => Enumerable.Range(r * width, width).Select(i => (float)i)).ToArray();
        Assert.Equal(expected, stage.Download(rows, expected.Length));
    }

    [Fact]
    public void Products_MatchTheCpu_Fp32_AndBf16OnTheGemvAndTheWidenedPaths()
    {
        using var stage = NewStage();
        var random = new Random(5);
        long bytes = 0;
        foreach (var precision in new[] { WeightPrecision.F32, WeightPrecision.BF16 })
            foreach (var (rows, n, k) in new[] { (1, 37, 64), (3, 40, 72), (GpuStage.GemvMaxRows, 9, 48), (2, 11, 30), (GpuStage.GemvMaxRows + 1, 13, 64), (20, 7, 30) })
            {
                var x = Enumerable.Range(0, rows * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
                var w = WeightMatrix.Create(Enumerable.Range(0, n * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), n, k, precision);
                var y = stage.Slot("y", rows * n);
                stage.Gemm(y, stage.Floats("x", x, x.Length), stage.Weight(w), rows, n, k);
                // A bf16 product above the GEMV's rows takes the activations rounded to bf16 too (as bf16 tensor cores
                // do); otherwise fp32 activations. Either way only the summation order differs from this reference.
                bool roundsActivations = precision == WeightPrecision.BF16 && rows > GpuStage.GemvMaxRows;
                var activations = roundsActivations ? x.Select(v => WeightMatrix.FromBf16(WeightMatrix.ToBf16(v))).ToArray() : x;
                AssertClose(CpuXWt(activations, w.ToF32(), rows, n, k), stage.Download(y, rows * n), 1e-5f);
                bytes += (long)n * k * (precision == WeightPrecision.BF16 ? 2 : 4);
            }
        Assert.Equal(bytes, stage.WeightBytes); // bf16 weights stay two bytes a weight on the device
    }

    [Fact]
    public void TheKvPool_ReusesACollectedSequencesSlot_AndKeepsWhatItHoldsWhenItGrows()
    {
        var device = GpuDevice.OpenCpu(0);
        using var pool = new KvPool(device.Accelerator, device.Stream, layers: 2, kvWidth: 3);
        var a = KvCache.CreateHandle(4);
        var b = KvCache.CreateHandle(4);
        Assert.Equal(0, pool.SlotOf(a));
        Assert.Equal(1, pool.SlotOf(b));

        // A known pattern in the two slots, then a third sequence: the pool doubles and keeps the pattern.
        var keys = pool.View(default, 0).Keys;
        var fill = device.Accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>((i, k) => k[i] = i + 0.5f);
        fill((int)keys.Length, keys);
        device.Accelerator.Synchronize();
        var before = Read(keys);
        TakeASlotAndForgetTheSequence(pool);              // slot 2, in a pool of 4
        var d = KvCache.CreateHandle(4);
        Assert.Equal(3, pool.SlotOf(d));
        Assert.Equal(before, Read(pool.View(default, 0).Keys)[..before.Length]);

        // The pool is full; the forgotten sequence's slot is the one a newcomer gets (no growth).
        long bytes = pool.Bytes;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal(2, pool.SlotOf(KvCache.CreateHandle(4)));
        Assert.Equal(bytes, pool.Bytes);
        Assert.Equal(0, pool.SlotOf(a));                   // the live ones keep theirs
        GC.KeepAlive(b);
        GC.KeepAlive(d);
        device.Dispose();
    }

    private static float[] Read(ArrayView<float> view)
    {
        var host = new float[view.Length];
        view.CopyToCPU(new Span<float>(host));
        return host;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void TakeASlotAndForgetTheSequence(KvPool pool) => Assert.Equal(2, pool.SlotOf(KvCache.CreateHandle(4)));

    [Fact]
    public void GroupReductions_GiveEveryThreadTheSumAndTheMaximum()
    {
        var device = GpuDevice.OpenCpu(0);
        const int groups = 3, values = 37;
        var input = Enumerable.Range(0, groups * values).Select(i => (float)((i * 7919) % 101) - 50f).ToArray();
        using var x = device.Accelerator.Allocate1D(input);
        using var sums = device.Accelerator.Allocate1D<float>(groups * device.Block);
        using var maxima = device.Accelerator.Allocate1D<float>(groups * device.Block);
        var kernel = device.Accelerator.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(ReduceKernel);
        kernel(new KernelConfig(groups, device.Block), x.View, sums.View, maxima.View, values);
        device.Accelerator.Synchronize();
        var sum = sums.GetAsArray1D();
        var max = maxima.GetAsArray1D();
        for (int g = 0; g < groups; g++)
        {
            var part = input.Skip(g * values).Take(values).ToArray();
            for (int t = 0; t < device.Block; t++)
            {
                Assert.Equal(part.Sum(), sum[g * device.Block + t], 3);
                Assert.Equal(part.Max(), max[g * device.Block + t]);
            }
        }
        device.Dispose();
    }

    private static void ReduceKernel(ArrayView<float> x, ArrayView<float> sums, ArrayView<float> maxima, int values)
    {
        int group = Grid.IdxX, thread = Group.IdxX;
        float sum = 0.0f, max = float.NegativeInfinity;
        for (int i = thread; i < values; i += Group.DimX)
        {
            sum += x[group * values + i];
            max = Math.Max(max, x[group * values + i]);
        }
        sums[group * Group.DimX + thread] = GpuGroup.Sum(sum);
        maxima[group * Group.DimX + thread] = GpuGroup.Max(max);
    }
}
