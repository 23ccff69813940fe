using System.Diagnostics;

namespace Tessera.Parallelism;

/// <summary>
/// What actually happened in one forward, per device: each executed (clock, micro-batch) with Stopwatch timestamps.
/// It turns the schedule's promise (stages work at the same time; the bubble is (p-1)/(m+p-1)) into something a test
/// can check.
/// </summary>
public sealed class ScheduleTrace
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<TraceStep> _steps = [];
    private readonly object _gate = new();

    public ScheduleTrace(IReadOnlyList<TraceLane> lanes)
    {
        Lanes = lanes;
    }

    /// <summary>The devices, by device index.</summary>
    public IReadOnlyList<TraceLane> Lanes { get; }

    /// <summary>Time since the trace began (the start of the forward).</summary>
    public TimeSpan Now => _clock.Elapsed;

    /// <summary>Adds a step; called by device workers concurrently.</summary>
    public void Record(TraceStep step)
    {
        lock (_gate) _steps.Add(step);
    }

    /// <summary>Every step, by device then clock.</summary>
    public IReadOnlyList<TraceStep> Steps
    {
        get
        {
            lock (_gate) return _steps.OrderBy(s => s.Device).ThenBy(s => s.Clock).ToArray();
        }
    }

    public IReadOnlyList<TraceStep> StepsOf(int device) => Steps.Where(s => s.Device == device).ToArray();

    /// <summary>The step <paramref name="device"/> ran at <paramref name="clock"/>, or null when it was idle.</summary>
    public TraceStep? StepAt(int device, int clock) => Steps.FirstOrDefault(s => s.Device == device && s.Clock == clock);

    public int BusySlots(int device) => StepsOf(device).Count;

    public int IdleSlots(int device) => Lanes[device].Clocks - BusySlots(device);

    public int TotalSlots => Lanes.Sum(l => l.Clocks);

    public int TotalBusySlots => Steps.Count;

    public int TotalIdleSlots => TotalSlots - TotalBusySlots;

    /// <summary>Idle slots / all slots over every device that took part: the measured bubble.</summary>
    public double IdleFraction => TotalSlots == 0 ? 0 : (double)TotalIdleSlots / TotalSlots;

    /// <summary>From the first step's start to the last step's end.</summary>
    public TimeSpan Span
    {
        get
        {
            var steps = Steps;
            return steps.Count == 0 ? TimeSpan.Zero : steps.Max(s => s.End) - steps.Min(s => s.Start);
        }
    }

    /// <summary>Pairs of steps of one replica on different stages whose time intervals overlap: the pipeline at work.</summary>
    public IReadOnlyList<(TraceStep A, TraceStep B)> ConcurrentSteps()
    {
        var steps = Steps;
        var pairs = new List<(TraceStep, TraceStep)>();
        for (int a = 0; a < steps.Count; a++)
            for (int b = a + 1; b < steps.Count; b++)
                if (steps[a].DataRank == steps[b].DataRank && steps[a].Stage != steps[b].Stage && steps[a].Overlaps(steps[b]))
                    pairs.Add((steps[a], steps[b]));
        return pairs;
    }

    /// <summary>The clocks at which two different stages of one replica were busy at the same time.</summary>
    public IReadOnlyList<int> ConcurrentClocks() =>
        ConcurrentSteps().Where(p => p.A.Clock == p.B.Clock).Select(p => p.A.Clock).Distinct().Order().ToArray();
}
