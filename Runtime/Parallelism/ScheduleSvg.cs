using System.Globalization;
using System.Security;
using System.Text;

namespace Tessera.Parallelism;

/// <summary>Draws a <see cref="PipelineSchedule"/> (and optionally a <see cref="ScheduleTrace"/>) as a self-contained SVG.</summary>
internal static class ScheduleSvg
{
    private const int Left = 170, Top = 86, CellWidth = 56, CellHeight = 30, Gap = 4;

    // Distinct, colour-blind-friendly-ish hues (Okabe-Ito + a few): neighbouring micro-batches must be told apart.
    private static readonly string[] Palette =
        ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#7F7FBF", "#999933", "#882255"];

    public static string Render(PipelineSchedule schedule, ScheduleTrace? trace)
    {
        // Rows: the schedule's stages, or the trace's devices (what actually ran where).
        var rows = trace is null
            ? Enumerable.Range(0, schedule.Stages).Select(j => (Label: $"stage {j}", Clocks: schedule.Clocks, Slot: (Func<int, int?>)(c => schedule.MicroBatchAt(j, c)), Tip: (Func<int, string?>)(_ => null))).ToList()
            : trace.Lanes.Select(l => (
                Label: $"{l.Name} (d{l.DataRank} s{l.Stage} t{l.TensorRank})",
                Clocks: l.Clocks,
                Slot: (Func<int, int?>)(c => trace.StepAt(l.Device, c)?.MicroBatch),
                Tip: (Func<int, string?>)(c => trace.StepAt(l.Device, c) is TraceStep s
                    ? $"{l.Name} clock {c}: micro-batch {s.MicroBatch}, {Ms(s.Start)}-{Ms(s.End)} ms" : null))).ToList();
        int clocks = Math.Max(schedule.Clocks, rows.Count == 0 ? 0 : rows.Max(r => r.Clocks));
        int gridWidth = clocks * CellWidth;
        string title = $"GPipe schedule: p = {schedule.Stages} stages, m = {schedule.MicroBatches} micro-batches, bubble {schedule.IdleFraction.ToString("P1", CultureInfo.InvariantCulture)}";
        string subtitle = trace is null
            ? $"{schedule.IdleSlots} of {schedule.TotalSlots} slots idle (hatched) = (p-1)/(m+p-1); micro-batch i runs on stage j at clock i + j"
            : $"measured: {trace.TotalIdleSlots} of {trace.TotalSlots} device slots idle ({trace.IdleFraction.ToString("P1", CultureInfo.InvariantCulture)}), {trace.Lanes.Count} devices, forward took {Ms(trace.Span)} ms";
        // Text widths are estimated (no font metrics here): about 0.6 em per character is safe for Helvetica.
        int width = Math.Max(Left + Math.Max(gridWidth, 360) + 30, Math.Max(16 + title.Length * 10, 16 + subtitle.Length * 8) + 16);
        int gridBottom = Top + rows.Count * CellHeight;
        int timelineTop = gridBottom + 70;
        int height = trace is null ? gridBottom + 50 : timelineTop + rows.Count * CellHeight + 60;

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n");
        svg.Append("<defs><pattern id=\"idle\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">" +
                   "<rect width=\"8\" height=\"8\" fill=\"#eeeeee\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"8\" stroke=\"#b0b0b0\" stroke-width=\"3\"/></pattern></defs>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");

        Text(svg, 16, 28, title, "font-size=\"16\" font-weight=\"bold\"");
        Text(svg, 16, 50, subtitle, "fill=\"#444\"");

        for (int c = 0; c < clocks; c++)
            Text(svg, Left + c * CellWidth + CellWidth / 2, Top - 10, $"clock {c}", "text-anchor=\"middle\" fill=\"#444\" font-size=\"11\"");
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            int y = Top + r * CellHeight;
            Text(svg, Left - 10, y + CellHeight / 2 + 5, row.Label, "text-anchor=\"end\"");
            for (int c = 0; c < clocks; c++)
            {
                int x = Left + c * CellWidth;
                int? mb = c < row.Clocks ? row.Slot(c) : null;
                if (mb is int i)
                {
                    svg.Append(CultureInfo.InvariantCulture, $"<g><rect x=\"{x + Gap / 2}\" y=\"{y + Gap / 2}\" width=\"{CellWidth - Gap}\" height=\"{CellHeight - Gap}\" rx=\"4\" fill=\"{Palette[i % Palette.Length]}\"/>");
                    if (row.Tip(c) is string tip) svg.Append("<title>").Append(SecurityElement.Escape(tip)).Append("</title>");
                    Text(svg, x + CellWidth / 2, y + CellHeight / 2 + 5, i.ToString(CultureInfo.InvariantCulture), "text-anchor=\"middle\" fill=\"white\" font-weight=\"bold\"");
                    svg.Append("</g>\n");
                }
                else
                {
                    svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x + Gap / 2}\" y=\"{y + Gap / 2}\" width=\"{CellWidth - Gap}\" height=\"{CellHeight - Gap}\" rx=\"4\" fill=\"url(#idle)\" stroke=\"#c8c8c8\"><title>idle</title></rect>\n");
                }
            }
        }
        Text(svg, 16, gridBottom + 24, "Numbers are micro-batches; hatched grey slots are idle (the bubble).", "fill=\"#444\" font-size=\"12\"");

        if (trace is not null) RenderTimeline(svg, trace, rows.Select(r => r.Label).ToList(), timelineTop, Math.Max(gridWidth, 360));
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    /// <summary>The measured steps on a real time axis: clock cycles drawn to scale, so overlap between stages shows.</summary>
    private static void RenderTimeline(StringBuilder svg, ScheduleTrace trace, List<string> labels, int top, int width)
    {
        var steps = trace.Steps;
        double end = steps.Count == 0 ? 1 : Math.Max(steps.Max(s => s.End.TotalMilliseconds), 1e-3);
        Text(svg, 16, top - 26, $"Measured timeline (0 to {end.ToString("0.##", CultureInfo.InvariantCulture)} ms)", "font-size=\"14\" font-weight=\"bold\"");
        for (int r = 0; r < labels.Count; r++)
        {
            int y = top + r * CellHeight;
            Text(svg, Left - 10, y + CellHeight / 2 + 5, labels[r], "text-anchor=\"end\"");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{y + Gap / 2}\" width=\"{width}\" height=\"{CellHeight - Gap}\" fill=\"url(#idle)\" opacity=\"0.6\"/>\n");
        }
        foreach (var s in steps)
        {
            double x0 = Left + s.Start.TotalMilliseconds / end * width;
            double w = Math.Max(1.5, s.Duration.TotalMilliseconds / end * width);
            int y = top + s.Device * CellHeight;
            svg.Append(CultureInfo.InvariantCulture, $"<g><rect x=\"{x0:0.##}\" y=\"{y + Gap / 2}\" width=\"{w:0.##}\" height=\"{CellHeight - Gap}\" fill=\"{Palette[s.MicroBatch % Palette.Length]}\" stroke=\"white\"/>");
            svg.Append("<title>").Append(SecurityElement.Escape($"clock {s.Clock}, micro-batch {s.MicroBatch}: {Ms(s.Start)}-{Ms(s.End)} ms")).Append("</title>");
            if (w > 14) Text(svg, x0 + w / 2, y + CellHeight / 2 + 5, s.MicroBatch.ToString(CultureInfo.InvariantCulture), "text-anchor=\"middle\" fill=\"white\" font-size=\"11\"");
            svg.Append("</g>\n");
        }
        int axis = top + labels.Count * CellHeight + 16;
        Text(svg, Left, axis, "0 ms", "fill=\"#444\" font-size=\"11\"");
        Text(svg, Left + width, axis, $"{end.ToString("0.##", CultureInfo.InvariantCulture)} ms", "text-anchor=\"end\" fill=\"#444\" font-size=\"11\"");
    }

    private static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.##", CultureInfo.InvariantCulture);

    private static void Text(StringBuilder svg, double x, double y, string text, string attributes) =>
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:0.##}\" y=\"{y:0.##}\" {attributes}>").Append(SecurityElement.Escape(text)).Append("</text>\n");
}
