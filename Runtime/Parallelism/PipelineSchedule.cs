using System.Globalization;
using System.Text;

namespace Tessera.Parallelism;

/// <summary>
/// The GPipe clock-cycle schedule of one forward, as data: micro-batch i runs on stage j at clock i + j. Stage j is
/// idle at the first j clocks (filling) and the last p - 1 - j (draining): those idle slots are the pipeline bubble,
/// (p - 1) / (m + p - 1) of all slots.
/// </summary>
public sealed class PipelineSchedule
{
    private readonly int?[,] _table;

    public PipelineSchedule(int stages, int microBatches)
    {
        if (stages < 1) throw new ArgumentOutOfRangeException(nameof(stages), $"A schedule needs at least one stage (got {stages}).");
        if (microBatches < 1) throw new ArgumentOutOfRangeException(nameof(microBatches), $"A schedule needs at least one micro-batch (got {microBatches}).");
        Stages = stages;
        MicroBatches = microBatches;
        _table = new int?[stages, Clocks];
        for (int i = 0; i < microBatches; i++)
            for (int j = 0; j < stages; j++)
                _table[j, i + j] = i;
    }

    /// <summary>p</summary>
    public int Stages { get; }

    /// <summary>m</summary>
    public int MicroBatches { get; }

    /// <summary>m + p - 1: the last micro-batch enters the last stage at clock (m - 1) + (p - 1).</summary>
    public int Clocks => MicroBatches + Stages - 1;

    /// <summary>The micro-batch that <paramref name="stage"/> runs at <paramref name="clock"/>, or null when it is idle.</summary>
    public int? MicroBatchAt(int stage, int clock) =>
        stage >= 0 && stage < Stages && clock >= 0 && clock < Clocks ? _table[stage, clock] : null;

    /// <summary>The clock at which <paramref name="stage"/> runs <paramref name="microBatch"/>.</summary>
    public int ClockOf(int stage, int microBatch) => microBatch + stage;

    public int TotalSlots => Stages * Clocks;

    /// <summary>Slots with work, counted from the table (p * m).</summary>
    public int BusySlots
    {
        get
        {
            int busy = 0;
            foreach (var slot in _table) if (slot is not null) busy++;
            return busy;
        }
    }

    /// <summary>Slots without work: the bubble, p * (p - 1).</summary>
    public int IdleSlots => TotalSlots - BusySlots;

    /// <summary>IdleSlots / TotalSlots = (p - 1) / (m + p - 1).</summary>
    public double IdleFraction => (double)IdleSlots / TotalSlots;

    /// <summary>The predicted bubble of p stages and m micro-batches, from the formula.</summary>
    public static double BubbleFraction(int stages, int microBatches) => (stages - 1) / (double)(microBatches + stages - 1);

    /// <summary>
    /// The table as text, one row per stage, one column per clock; a number is the micro-batch, "." an idle slot.
    /// <code>
    ///          c0 c1 c2 c3 c4
    /// stage 0   0  1  2  3  .
    /// stage 1   .  0  1  2  3
    /// </code>
    /// </summary>
    public string ToText()
    {
        int cell = Math.Max(2, (MicroBatches - 1).ToString(CultureInfo.InvariantCulture).Length);
        cell = Math.Max(cell, ("c" + (Clocks - 1).ToString(CultureInfo.InvariantCulture)).Length);
        string label = "stage " + (Stages - 1).ToString(CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append(new string(' ', label.Length));
        for (int c = 0; c < Clocks; c++) sb.Append(' ').Append(("c" + c.ToString(CultureInfo.InvariantCulture)).PadLeft(cell));
        sb.AppendLine();
        for (int j = 0; j < Stages; j++)
        {
            sb.Append(("stage " + j.ToString(CultureInfo.InvariantCulture)).PadRight(label.Length));
            for (int c = 0; c < Clocks; c++)
                sb.Append(' ').Append((_table[j, c]?.ToString(CultureInfo.InvariantCulture) ?? ".").PadLeft(cell));
            sb.AppendLine();
        }
        sb.Append(CultureInfo.InvariantCulture, $"p = {Stages}, m = {MicroBatches}: {IdleSlots} of {TotalSlots} slots idle, bubble {IdleFraction:P1}");
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>
    /// An SVG timeline of the schedule: one row per stage (or per device of <paramref name="trace"/>, showing what ran
    /// there), one column per clock; busy slots coloured and labelled with their micro-batch, idle slots hatched grey.
    /// With a trace, a second panel draws the measured steps on a real time axis.
    /// </summary>
    public string ToSvg(ScheduleTrace? trace = null) => ScheduleSvg.Render(this, trace);
}
