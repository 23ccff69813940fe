using System.Xml.Linq;
using Tessera.Parallelism;

// These tests block on purpose (with timeouts): what they test is blocking transports and worker threads.
#pragma warning disable xUnit1031

namespace Tessera.Runtime.Tests.Parallelism;

public sealed class PipelineScheduleTests(ToyCheckpointFixture fixture) : IClassFixture<ToyCheckpointFixture>
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 4)]
    [InlineData(2, 1)]
    [InlineData(2, 4)]
    [InlineData(3, 2)]
    [InlineData(4, 8)]
    [InlineData(5, 3)]
    public void IdleFraction_CountedFromTheTable_IsTheGPipeBubble(int p, int m)
    {
        var schedule = new PipelineSchedule(p, m);
        Assert.Equal(m + p - 1, schedule.Clocks);
        Assert.Equal(p * m, schedule.BusySlots);
        Assert.Equal(p * (p - 1), schedule.IdleSlots);
        Assert.Equal((p - 1) / (double)(m + p - 1), schedule.IdleFraction, 12);
        Assert.Equal(PipelineSchedule.BubbleFraction(p, m), schedule.IdleFraction, 12);
        for (int j = 0; j < p; j++)
            for (int c = 0; c < schedule.Clocks; c++)
                Assert.Equal(c - j >= 0 && c - j < m ? c - j : null, schedule.MicroBatchAt(j, c));
        Assert.Null(schedule.MicroBatchAt(p, 0));
        Assert.Null(schedule.MicroBatchAt(0, schedule.Clocks));
    }

    [Fact]
    public void ToText_DrawsStagesByClocks()
    {
        string expected = """
                          stage 1 c0 c1 c2 c3 c4
                          stage 0  0  1  2  3  .
                          stage 1  .  0  1  2  3
                          p = 2, m = 4: 2 of 10 slots idle, bubble 20.0 %

                          """.Replace("stage 1 c0", "        c0").ReplaceLineEndings("\n");
        Assert.Equal(expected, new PipelineSchedule(2, 4).ToText().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void ToSvg_IsWellFormed_LabelsBusySlots_AndHatchesIdleOnes()
    {
        var svg = new PipelineSchedule(3, 4).ToSvg();
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains(texts, t => t.Contains("p = 3") && t.Contains("m = 4") && t.Contains("33.3"));
        Assert.Contains("stage 2", texts);
        Assert.Equal(3 * 4, texts.Count(t => t is "0" or "1" or "2" or "3"));
        Assert.Equal(3 * 2, doc.Descendants(ns + "rect").Count(r => (string?)r.Attribute("fill") == "url(#idle)"));
    }

    [Fact]
    public void Trace_RecordsEverySlot_AndItsIdleFractionIsTheSchedules()
    {
        using var engine = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Pipeline: 2, Tensor: 2, MicroBatches: 4));
        var caches = Enumerable.Range(0, 4).Select(_ => engine.CreateCache()).ToArray();
        engine.Forward(TokenBatch.ForSequences(caches, [[1, 2], [3], [4, 5, 6], [7]]));
        var trace = engine.LastTrace!;
        Assert.Equal(4, trace.Lanes.Count);
        foreach (var lane in trace.Lanes)
        {
            Assert.Equal(5, lane.Clocks);
            Assert.Equal(4, trace.BusySlots(lane.Device));
            Assert.Equal(1, trace.IdleSlots(lane.Device));
            foreach (var step in trace.StepsOf(lane.Device))
            {
                Assert.Equal(engine.Schedule.MicroBatchAt(lane.Stage, step.Clock), step.MicroBatch);
                Assert.True(step.End >= step.Start);
            }
        }
        Assert.Equal(engine.Schedule.IdleFraction, trace.IdleFraction, 12);
        Assert.Equal(0.2, trace.IdleFraction, 12);

        var svg = engine.Schedule.ToSvg(trace);
        XDocument.Parse(svg);
        Assert.Contains("cpu:3 (d0 s1 t1)", svg);
        Assert.Contains("Measured timeline", svg);
    }

    [Fact]
    public void AGivenTable_DrivesEveryForward_AndAShortForwardRunsItsFirstMicroBatches()
    {
        // Not GPipe: stage 1 waits a clock longer before its first micro-batch.
        int[,] table = { { 0, 1, 2, -1, -1 }, { -1, -1, 0, 1, 2 } };
        using var engine = ParallelEngine.Create(fixture.Checkpoint.Directory, new ParallelPlan(Pipeline: 2, MicroBatches: 3),
            (c, rank, _) => new ToyRankProgram(c, rank, null), ToyCheckpoint.Facts, table);
        var caches = Enumerable.Range(0, 3).Select(_ => engine.CreateCache()).ToArray();
        float[] logits = engine.Forward(TokenBatch.ForSequences(caches, [[1, 2], [3], [4, 5, 6]]));
        foreach (var lane in engine.LastTrace!.Lanes)
        {
            Assert.Equal(5, lane.Clocks);
            foreach (var step in engine.LastTrace.StepsOf(lane.Device)) Assert.Equal(table[lane.Stage, step.Clock], step.MicroBatch);
        }
        using var gpipe = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Pipeline: 2, MicroBatches: 3));
        var gpipeCaches = Enumerable.Range(0, 3).Select(_ => gpipe.CreateCache()).ToArray();
        Assert.Equal(gpipe.Forward(TokenBatch.ForSequences(gpipeCaches, [[1, 2], [3], [4, 5, 6]])), logits); // the order of work changes nothing

        engine.Forward(TokenBatch.ForSequences([engine.CreateCache(), engine.CreateCache()], [[1], [2]]));
        Assert.All(engine.LastTrace!.Lanes, lane => Assert.Equal(4, lane.Clocks)); // micro-batch 2's clocks dropped
    }

    [Fact]
    public void FromTable_ReadsGPipesTable_AndRefusesATableNoPipelineCanRun()
    {
        var gpipe = new PipelineSchedule(3, 4);
        var table = new int[3, gpipe.Clocks];
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < gpipe.Clocks; c++) table[j, c] = gpipe.MicroBatchAt(j, c) ?? -1;
        var read = PipelineSchedule.FromTable(table);
        Assert.Equal(gpipe.ToText(), read.ToText());
        Assert.Equal(new PipelineSchedule(3, 2).ToText(), read.First(2).ToText());

        Assert.Contains("micro-batch 0 is next", Assert.Throws<ArgumentException>(() => PipelineSchedule.FromTable(new[,] { { 1, 0 } })).Message);
        Assert.Contains("not after stage 0", Assert.Throws<ArgumentException>(() => PipelineSchedule.FromTable(new[,] { { 0, -1 }, { 0, -1 } })).Message);
        Assert.Contains("runs 1 of the 2 micro-batches", Assert.Throws<ArgumentException>(() => PipelineSchedule.FromTable(new[,] { { 0, 1, -1 }, { -1, 0, -1 } })).Message);
    }

    [Fact]
    public void Pipeline_RunsTwoStagesAtOnce()
    {
        using var engine = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Pipeline: 2, MicroBatches: 4));
        engine.OnStep = (_, _, _) => Thread.Sleep(20);
        var caches = Enumerable.Range(0, 4).Select(_ => engine.CreateCache()).ToArray();
        engine.Forward(TokenBatch.ForSequences(caches, [[1], [2], [3], [4]]));
        var trace = engine.LastTrace!;
        // Clocks 1..3: stage 0 runs micro-batch c while stage 1 runs c - 1, at the same time.
        Assert.Equal([1, 2, 3], trace.ConcurrentClocks());
        Assert.All(trace.ConcurrentSteps(), pair => Assert.Equal(pair.A.MicroBatch + pair.A.Stage, pair.B.MicroBatch + pair.B.Stage));
        double busy = trace.Steps.Sum(s => s.Duration.TotalMilliseconds);
        Assert.True(trace.Span.TotalMilliseconds < 0.9 * busy, $"the forward took {trace.Span.TotalMilliseconds} ms for {busy} ms of steps");
    }

    [Fact]
    public void LayerWiseModelParallelism_HasOneDeviceActiveAtATime()
    {
        using var engine = ToyScenario.Create(fixture.Checkpoint, new ParallelPlan(Pipeline: 2, MicroBatches: 1));
        engine.OnStep = (_, _, _) => Thread.Sleep(5);
        var caches = Enumerable.Range(0, 3).Select(_ => engine.CreateCache()).ToArray();
        engine.Forward(TokenBatch.ForSequences(caches, [[1], [2], [3]]));
        var trace = engine.LastTrace!;
        Assert.Empty(trace.ConcurrentSteps());
        Assert.Equal(0.5, trace.IdleFraction, 12);
    }
}
