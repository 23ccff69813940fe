using Tessera.Cpu;
using Tessera.Cuda;
using Tessera.Parallelism;

namespace Tessera.Runtime.Tests.Cuda;

/// <summary>
/// A CUDA stage's transports between virtual devices on one GPU (here the emulator's): all-reduce, logit gathers and
/// stage activations stay on the device; and its bf16 products (GEMV for decode rows, widened TF32 GEMM above).
/// </summary>
public sealed class CudaStageTransportTests
{
    private static CudaStage NewStage(CudaContext context) => new(context, CudaPrelude.Source, TestNvrtc.Cache, layers: 0, kvWidth: 1);

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

    private static void OnEveryRank(int ranks, Action<int> body)
    {
        Exception? failure = null;
        var threads = Enumerable.Range(0, ranks).Select(r => new Thread(() =>
        {
            try { body(r); }
            catch (Exception e) { failure ??= e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (failure is not null) throw new Xunit.Sdk.XunitException($"a rank failed: {failure}");
    }

    [EmulatorFact]
    public void AllReduce_OnOneGpu_SumsEveryRanksPartial_OnTheDevice_IdenticallyOnEveryRank()
    {
        const int ranks = 3, count = 1000;
        using var group = new InProcessGroup(ranks);
        var results = new float[ranks][];
        OnEveryRank(ranks, r =>
        {
            using var context = CudaContext.CreateEmulated();
            using var stage = NewStage(context);
            var partial = Enumerable.Range(0, count).Select(i => (r + 1) * 0.1f + i * 1e-3f * (r + 1)).ToArray();
            var y = stage.Floats("partial", partial, count);
            for (int call = 0; call < 3; call++) // repeated calls reuse the staging: each must see fresh partials
            {
                if (call > 0) y.Upload(partial);
                stage.AllReduce(y, count, new DeviceOnly(group[r]));
            }
            results[r] = stage.Download(y, count);
        });
        var expected = Enumerable.Range(0, count).Select(i => ((0.1f + i * 1e-3f) + (0.2f + i * 2e-3f)) + (0.3f + i * 3e-3f)).ToArray();
        for (int r = 0; r < ranks; r++)
        {
            Assert.Equal(results[0], results[r]); // bit-identical replicas
            DeviceLayerChecks.AssertClose(expected, results[r], 1e-6f);
        }
        // Each rank reads every peer's partial once per call.
        Assert.Equal(3L * ranks * (ranks - 1) * count * sizeof(float), group.BytesSent);
    }

    [EmulatorFact]
    public void Logits_OfAVocabShardedHead_GatherEveryRanksColumns_OnTheDevice()
    {
        const int ranks = 2, rows = 3, width = 5;
        using var group = new InProcessGroup(ranks);
        var results = new float[ranks][];
        OnEveryRank(ranks, r =>
        {
            using var context = CudaContext.CreateEmulated();
            using var stage = NewStage(context);
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

    [EmulatorFact]
    public void StageActivations_PassAsDeviceBuffers_WhichTheSenderReuses()
    {
        using var link = new InProcessStageLink(capacity: 2);
        using var senderContext = CudaContext.CreateEmulated();
        using var receiverContext = CudaContext.CreateEmulated();
        using var sender = NewStage(senderContext);
        using var receiver = NewStage(receiverContext);
        for (int step = 0; step < 3; step++)
        {
            var data = Enumerable.Range(0, 64).Select(i => step * 1000f + i).ToArray();
            sender.SendActivations(link, sender.Floats("out", data, data.Length), data.Length);
            var input = receiver.ReceiveActivations(link, data.Length);
            Assert.Equal(data, receiver.Download(input, data.Length));
        }
        Assert.Equal(3L * 64 * sizeof(float), link.BytesSent);
    }

    [EmulatorFact]
    public void ReceiveActivations_NamesAShapeMismatch()
    {
        using var link = new InProcessStageLink();
        using var context = CudaContext.CreateEmulated();
        using var stage = NewStage(context);
        stage.SendActivations(link, stage.Floats("out", new float[8], 8), 8);
        var e = Assert.Throws<InvalidOperationException>(() => stage.ReceiveActivations(link, 16));
        Assert.Contains("8 floats on the device", e.Message);
    }

    [EmulatorFact]
    public void LogitRowsOf_GathersTheWantedRows()
    {
        using var context = CudaContext.CreateEmulated();
        using var stage = NewStage(context);
        const int width = 3;
        var hidden = stage.Floats("hidden", Enumerable.Range(0, 4 * width).Select(i => (float)i).ToArray(), 4 * width);
        var batch = TokenBatch.ForSequences([KvCache.CreateHandle(16), KvCache.CreateHandle(16)], [[1, 2], [3, 4]], lastLogitsOnly: true);
        Assert.False(batch.AllLogitRows);
        var rows = stage.LogitRowsOf(hidden, batch, width);
        var expected = batch.LogitRows.SelectMany(r => Enumerable.Range(r * width, width).Select(i => (float)i)).ToArray();
        Assert.Equal(expected, stage.Download(rows, expected.Length));
    }

    [EmulatorFact]
    public void Bf16Products_MatchTheCpu_OnTheGemvAndTheTf32Paths()
    {
        using var context = CudaContext.CreateEmulated();
        using var stage = NewStage(context);
        var random = new Random(5);
        foreach (var (rows, n, k) in new[] { (1, 37, 64), (3, 40, 72), (CudaStage.GemvMaxRows, 9, 48), (2, 11, 30), (CudaStage.GemvMaxRows + 1, 13, 64), (20, 7, 30) })
        {
            var x = Enumerable.Range(0, rows * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            var w = WeightMatrix.Create(Enumerable.Range(0, n * k).Select(_ => (float)random.NextDouble() - 0.5f).ToArray(), n, k, WeightPrecision.BF16);
            var y = stage.Slot("y", rows * n);
            stage.Gemm(y, stage.Floats("x", x, x.Length), stage.Weight(w), rows, n, k);
            var expected = DeviceLayerChecks.CpuXWt(x, w.ToF32(), rows, n, k);
            // GEMV: fp32 activations, so only summation order differs; TF32: activations keep 10 mantissa bits.
            DeviceLayerChecks.AssertClose(expected, stage.Download(y, rows * n), rows <= CudaStage.GemvMaxRows ? 1e-5f : 5e-3f);
        }
        Assert.Equal(2L * (37 * 64 + 40 * 72 + 9 * 48 + 11 * 30 + 13 * 64 + 7 * 30), stage.WeightBytes); // two bytes a weight on the device
    }
}
