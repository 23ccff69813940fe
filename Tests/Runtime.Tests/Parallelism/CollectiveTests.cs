using Tessera.Parallelism;

// These tests block on purpose (with timeouts): what they test is blocking transports and worker threads.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class CollectiveTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static void OnRanks(int size, Action<int> body) => Ranks.Run(size, body, Timeout);

    [Fact]
    public void AllReduceSum_GivesEveryRankTheSameBits_InRankOrder()
    {
        const int size = 4;
        using var group = new InProcessGroup(size);
        var random = new Random(7);
        // Several calls of different sizes, to exercise the double-buffered staging.
        int[] counts = [5, 1000, 3, 17, 1000, 64];
        var inputs = counts.Select(n => Enumerable.Range(0, size).Select(_ => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * 1e3f).ToArray()).ToArray()).ToArray();
        var outputs = new float[counts.Length][][];
        for (int call = 0; call < counts.Length; call++) outputs[call] = new float[size][];
        OnRanks(size, r =>
        {
            for (int call = 0; call < counts.Length; call++)
            {
                var data = inputs[call][r].Concat(new float[3]).ToArray(); // longer than count: the tail is untouched
                group[r].AllReduceSum(data, counts[call]);
                outputs[call][r] = data;
            }
        });
        for (int call = 0; call < counts.Length; call++)
        {
            var expected = new float[counts[call]];
            for (int i = 0; i < counts[call]; i++)
            {
                float s = inputs[call][0][i];
                for (int r = 1; r < size; r++) s += inputs[call][r][i];
                expected[i] = s;
            }
            for (int r = 0; r < size; r++)
            {
                Assert.True(expected.AsSpan().SequenceEqual(outputs[call][r].AsSpan(0, counts[call])), $"call {call}, rank {r}");
                Assert.Equal(new float[3], outputs[call][r][counts[call]..]);
            }
        }
        long perRank = counts.Sum() * 4L * (size - 1);
        Assert.Equal(perRank, group[2].BytesSent);
        Assert.Equal(size * perRank, group.BytesSent);
    }

    [Fact]
    public void AllGatherColumns_PutsRankRsColumnsInItsBlockOfEveryRow()
    {
        const int size = 3, rows = 2, width = 2;
        using var group = new InProcessGroup(size);
        var results = new float[size][];
        OnRanks(size, r =>
        {
            // Element (row, j) of rank r is 100 r + 10 row + j.
            var local = Enumerable.Range(0, rows * width).Select(i => 100f * r + 10 * (i / width) + i % width).ToArray();
            var full = new float[rows * width * size];
            group[r].AllGatherColumns(local, rows, width, full);
            results[r] = full;
        });
        float[] expected = [0, 1, 100, 101, 200, 201, 10, 11, 110, 111, 210, 211];
        foreach (var full in results) Assert.Equal(expected, full);
        Assert.Equal(rows * width * 4 * (size - 1), group[0].BytesSent);
    }

    [Fact]
    public void AllToAll_DeliversBlockRToRankR_InSourceOrder_WithAnySizes()
    {
        const int size = 3;
        using var group = new InProcessGroup(size);
        var received = new float[size][][][];
        OnRanks(size, r =>
        {
            received[r] = new float[2][][];
            for (int call = 0; call < 2; call++)
            {
                // Rank r sends (r + 1) * (d + call) floats to rank d, each 100 r + 10 d + call; some blocks are empty.
                var send = Enumerable.Range(0, size).Select(d => Enumerable.Repeat(100f * r + 10 * d + call, (r + 1) * (d + call)).ToArray()).ToArray();
                received[r][call] = group[r].AllToAll(send);
                foreach (var block in send) Array.Fill(block, -1f); // the sender may reuse its blocks at once
            }
        });
        for (int d = 0; d < size; d++)
            for (int call = 0; call < 2; call++)
                for (int source = 0; source < size; source++)
                    Assert.Equal(Enumerable.Repeat(100f * source + 10 * d + call, (source + 1) * (d + call)), received[d][call][source]);
        // Rank 0 sent 1 * (1 + 2) floats to others in call 0 and 1 * (2 + 3) in call 1.
        Assert.Equal((3 + 5) * 4, group[0].BytesSent);
    }

    [Fact]
    public void SingleRankGroups_AreNoOps()
    {
        using var group = new InProcessGroup(1);
        var data = new float[] { 1, 2, 3 };
        group[0].AllReduceSum(data, 3);
        Assert.Equal([1f, 2, 3], data);
        var full = new float[3];
        group[0].AllGatherColumns(data, 1, 3, full);
        Assert.Equal(data, full);
        Assert.Equal([data], group[0].AllToAll([data]));
        Assert.Equal([data], SingleRankGroup.Instance.AllToAll([data]));
        Assert.Equal(0, group.BytesSent);
    }

    [Fact]
    public void RanksThatDisagreeOnTheSize_AllFail_NoneHangs()
    {
        using var group = new InProcessGroup(2);
        var errors = new Exception?[2];
        OnRanks(2, r =>
        {
            try { group[r].AllReduceSum(new float[8], r == 0 ? 4 : 8); }
            catch (Exception e) { errors[r] = e; }
        });
        Assert.All(errors, e => Assert.Contains("different sizes", Assert.IsType<InvalidOperationException>(e).Message));
    }

    [Fact]
    public void Abort_WakesARankWaitingForItsPeers_AndResetReopens()
    {
        using var group = new InProcessGroup(2);
        var waiting = Task.Factory.StartNew(() => group[0].AllReduceSum(new float[4], 4), TaskCreationOptions.LongRunning);
        Thread.Sleep(50);
        Assert.False(waiting.IsCompleted);
        group.Abort(new InvalidOperationException("rank 1 died"));
        var e = Assert.Throws<AggregateException>(() => waiting.Wait(Timeout));
        Assert.Contains("rank 1 died", Assert.IsType<ParallelAbortedException>(e.InnerException).Message);

        group.Reset();
        OnRanks(2, r =>
        {
            var data = new float[] { r + 1 };
            group[r].AllReduceSum(data, 1);
            Assert.Equal(3f, data[0]);
        });
    }

    [Fact]
    public void StageLink_SendsCopies_InOrder_AndCountsBytes()
    {
        var link = new InProcessStageLink(capacity: 4);
        var buffer = new float[] { 1, 2, 3 };
        link.Send(buffer, 2);
        buffer[0] = 99; // the sender may reuse its buffer at once
        link.Send(buffer, 3);
        Assert.Equal(2, link.Pending);
        Assert.Equal([1f, 2], link.Receive(2));
        Assert.Equal([99f, 2, 3], link.Receive(3));
        Assert.Equal(5 * 4, link.BytesSent);
        link.Send(buffer, 1);
        Assert.Contains("expected 2 floats", Assert.Throws<InvalidOperationException>(() => link.Receive(2)).Message);
    }

    private sealed record FakeDeviceBuffer(int Floats) : IDevicePayload
    {
        public string Describe() => $"{Floats} floats on a fake device";
    }

    [Fact]
    public void StageLink_CarriesHostFloatsAndDevicePayloadsAsDistinctCases_AndAFloatReceiverNamesWhatCameInstead()
    {
        var link = new InProcessStageLink(capacity: 4);
        var device = new FakeDeviceBuffer(8);
        link.Send([1, 2], 2);
        link.SendDevice(device, bytes: 32);
        link.SendDevice(device, bytes: 32);

        Assert.Equal([1f, 2], Assert.IsType<StageMessage.Host>(link.ReceiveMessage()).Data);
        Assert.Same(device, Assert.IsType<StageMessage.Device>(link.ReceiveMessage()).Payload);
        Assert.Contains("8 floats on a fake device", Assert.Throws<InvalidOperationException>(() => link.Receive(8)).Message);
        Assert.Equal(8 + 32 + 32, link.BytesSent);
    }

    [Fact]
    public void ExchangeDevice_GivesEveryRankEveryRanksPayloadInRankOrder()
    {
        using var group = new InProcessGroup(3);
        var seen = new IReadOnlyList<IDevicePayload>[3];
        var ranks = Enumerable.Range(0, 3).Select(r => Task.Factory.StartNew(() =>
        {
            seen[r] = group[r].ExchangeDevice(new FakeDeviceBuffer(r), bytes: 4);
            group[r].Barrier();
        }, TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(ranks, Timeout));

        Assert.All(seen, parts => Assert.Equal([0, 1, 2], parts.Select(p => ((FakeDeviceBuffer)p).Floats)));
    }

    [Fact]
    public void StageLink_ReceiveBlocksUntilSent_AndAFullLinkBlocksTheSender()
    {
        var link = new InProcessStageLink(capacity: 1);
        var receiving = Task.Factory.StartNew(() => link.Receive(1), TaskCreationOptions.LongRunning);
        Thread.Sleep(30);
        Assert.False(receiving.IsCompleted);
        link.Send([7], 1);
        Assert.True(receiving.Wait(Timeout));
        Assert.Equal(7f, receiving.Result[0]);

        link.Send([1], 1);
        var sending = Task.Factory.StartNew(() => link.Send([2], 1), TaskCreationOptions.LongRunning);
        Thread.Sleep(30);
        Assert.False(sending.IsCompleted);
        Assert.Equal(1f, link.Receive(1)[0]);
        Assert.True(sending.Wait(Timeout));
        Assert.Equal(2f, link.Receive(1)[0]);
    }

    [Fact]
    public void StageLink_AbortWakesABlockedReceiver()
    {
        var link = new InProcessStageLink();
        var receiving = Task.Factory.StartNew(() => link.Receive(1), TaskCreationOptions.LongRunning);
        Thread.Sleep(30);
        link.Dispose();
        var e = Assert.Throws<AggregateException>(() => receiving.Wait(Timeout));
        Assert.IsType<ParallelAbortedException>(e.InnerException);
    }

    [Fact]
    public void CpuDevice_RunsWorkOnItsOwnNamedThread_InOrder()
    {
        var device = new CpuDevice(3);
        Assert.Equal("cpu:3", device.Name);
        var order = new List<int>();
        var tasks = Enumerable.Range(0, 20).Select(i => device.Run(() => order.Add(i))).ToArray();
        Assert.True(Task.WaitAll(tasks, Timeout));
        Assert.Equal(Enumerable.Range(0, 20), order);
        Assert.Equal("cpu:3", device.Run(() => Thread.CurrentThread.Name).Result);
        Assert.True(device.Run(() => device.IsCurrentThread).Result);
        Assert.False(device.IsCurrentThread);
        var failed = device.Run(() => throw new InvalidOperationException("bad"));
        Assert.Equal("bad", Assert.Throws<AggregateException>(() => failed.Wait(Timeout)).InnerException!.Message);

        Parallel.For(0, 1000, _ => device.Memory.AddWeights(4));
        device.Memory.AddKvCache(1 << 20);
        Assert.Equal(4000, device.Memory.Weights);
        Assert.Contains("KV cache 1 MiB", device.Memory.ToString());

        device.Dispose();
        var error = Record.Exception(() => { _ = device.Run(() => { }); });
        Assert.IsType<ObjectDisposedException>(error);
    }
}
