using System.Globalization;
using System.Text;

namespace Tessera.Parallelism;

/// <summary>
/// The clock-cycle schedule of one forward, as data: which micro-batch each stage runs at each clock. The GPipe
/// schedule (<see cref="PipelineSchedule(int, int)"/>) runs micro-batch i on stage j at clock i + j: stage j is idle
/// at the first j clocks (filling) and the last p - 1 - j (draining), the pipeline bubble, (p - 1) / (m + p - 1) of
/// all slots. A [Compile] unit emits its schedule as a table, and that table drives its runs (<see cref="FromTable"/>).
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
        Clocks = microBatches + stages - 1;
        _table = new int?[stages, Clocks];
        for (int i = 0; i < microBatches; i++)
            for (int j = 0; j < stages; j++)
                _table[j, i + j] = i;
    }

    private PipelineSchedule(int?[,] table, int microBatches)
    {
        _table = table;
        Stages = table.GetLength(0);
        Clocks = table.GetLength(1);
        MicroBatches = microBatches;
    }

    /// <summary>
    /// A schedule given as a table, [stage, clock] = micro-batch or -1 for idle (as a [Compile] unit emits it), checked
    /// to be one a pipeline can run: every stage runs every micro-batch once, in order (stage links are first in, first
    /// out), and a stage runs a micro-batch at a later clock than the stage before it (what it receives was sent at an
    /// earlier clock).
    /// </summary>
    public static PipelineSchedule FromTable(int[,] table)
    {
        ArgumentNullException.ThrowIfNull(table);
        int stages = table.GetLength(0), clocks = table.GetLength(1);
        if (stages < 1 || clocks < 1) throw new ArgumentException("A schedule table needs at least one stage and one clock.", nameof(table));
        var cells = new int?[stages, clocks];
        int microBatches = 0;
        foreach (int cell in table) microBatches = Math.Max(microBatches, cell + 1);
        var previous = new int[microBatches];
        for (int j = 0; j < stages; j++)
        {
            int next = 0;
            var clockOf = new int[microBatches];
            for (int c = 0; c < clocks; c++)
            {
                int cell = table[j, c];
                if (cell < 0) continue;
                if (cell != next)
                    throw new ArgumentException($"Stage {j} runs micro-batch {cell} at clock {c}, but micro-batch {next} is next: each stage runs the micro-batches once, in order.", nameof(table));
                if (j > 0 && c <= previous[cell])
                    throw new ArgumentException($"Stage {j} runs micro-batch {cell} at clock {c}, not after stage {j - 1} (clock {previous[cell]}).", nameof(table));
                cells[j, c] = cell;
                clockOf[cell] = c;
                next++;
            }
            if (next != microBatches)
                throw new ArgumentException($"Stage {j} runs {next} of the {microBatches} micro-batches.", nameof(table));
            previous = clockOf;
        }
        return new PipelineSchedule(cells, microBatches);
    }

    /// <summary>
    /// The schedule of a forward with only the first <paramref name="microBatches"/> micro-batches (fewer sequences
    /// than the plan's micro-batches): the others' slots idle, and the clocks after the last busy one dropped.
    /// </summary>
    public PipelineSchedule First(int microBatches)
    {
        if (microBatches < 1 || microBatches > MicroBatches)
            throw new ArgumentOutOfRangeException(nameof(microBatches), $"The schedule has {MicroBatches} micro-batches; asked for the first {microBatches}.");
        if (microBatches == MicroBatches) return this;
        int clocks = 0;
        for (int j = 0; j < Stages; j++)
            for (int c = 0; c < Clocks; c++)
                if (_table[j, c] < microBatches) clocks = Math.Max(clocks, c + 1);
        var cells = new int?[Stages, clocks];
        for (int j = 0; j < Stages; j++)
            for (int c = 0; c < clocks; c++)
                cells[j, c] = _table[j, c] < microBatches ? _table[j, c] : null;
        return new PipelineSchedule(cells, microBatches);
    }

    /// <summary>p</summary>
    public int Stages { get; }

    /// <summary>m</summary>
    public int MicroBatches { get; }

    /// <summary>The clocks of one forward; GPipe's m + p - 1: the last micro-batch enters the last stage at clock (m - 1) + (p - 1).</summary>
    public int Clocks { get; }

    /// <summary>The micro-batch that <paramref name="stage"/> runs at <paramref name="clock"/>, or null when it is idle.</summary>
    public int? MicroBatchAt(int stage, int clock) =>
        stage >= 0 && stage < Stages && clock >= 0 && clock < Clocks ? _table[stage, clock] : null;

    /// <summary>The clock at which <paramref name="stage"/> runs <paramref name="microBatch"/>.</summary>
    public int ClockOf(int stage, int microBatch)
    {
        for (int c = 0; c < Clocks; c++)
            if (_table[stage, c] == microBatch) return c;
        throw new ArgumentOutOfRangeException(nameof(microBatch), $"Stage {stage} does not run micro-batch {microBatch}.");
    }

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
