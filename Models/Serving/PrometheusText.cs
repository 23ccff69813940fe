using System.Globalization;
using System.Text;
using Tessera.Generation;

namespace Tessera.Models.Serving;

/// <summary>
/// Writes Prometheus' text exposition format (version 0.0.4): per metric a <c># HELP</c> and a <c># TYPE</c> line, then
/// its samples, every one with the writer's common labels. Label values escape <c>\</c>, <c>"</c> and newlines, help
/// text <c>\</c> and newlines; numbers are invariant, with <c>+Inf</c>, <c>-Inf</c> and <c>NaN</c> spelled as the format
/// spells them. A histogram is its cumulative <c>_bucket</c> samples (<c>le</c> ascending, ending with <c>+Inf</c>),
/// <c>_sum</c> and <c>_count</c>.
/// <code>
/// var text = new PrometheusText(("model_name", "tiny-llama"));
/// text.Gauge("vllm:num_requests_running", "Requests in flight.", 3);
/// // # HELP vllm:num_requests_running Requests in flight.
/// // # TYPE vllm:num_requests_running gauge
/// // vllm:num_requests_running{model_name="tiny-llama"} 3
/// </code>
/// </summary>
internal sealed class PrometheusText(params (string Name, string Value)[] labels)
{
    /// <summary>The Content-Type of the format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();
    private readonly string _labels = string.Join(",", labels.Select(l => Label(l.Name, l.Value)));

    public void Gauge(string name, string help, double value)
    {
        Header(name, help, "gauge");
        Sample(name, null, value);
    }

    /// <summary>A counter; its name ends with <c>_total</c>, as the format's counters do.</summary>
    public void Counter(string name, string help, double value)
    {
        Header(name, help, "counter");
        Sample(name, null, value);
    }

    /// <summary>One metric with one sample per set of further labels.</summary>
    public void Family(string name, string help, string type, IEnumerable<((string Name, string Value)[] Labels, double Value)> samples)
    {
        Header(name, help, type);
        foreach (var (extra, value) in samples) Sample(name, string.Join(",", extra.Select(l => Label(l.Name, l.Value))), value);
    }

    public void Histogram(string name, string help, HistogramSnapshot histogram)
    {
        Header(name, help, "histogram");
        for (int i = 0; i < histogram.Bounds.Count; i++) Sample(name + "_bucket", Label("le", Number(histogram.Bounds[i])), histogram.Cumulative[i]);
        Sample(name + "_bucket", Label("le", "+Inf"), histogram.Count);
        Sample(name + "_sum", null, histogram.Sum);
        Sample(name + "_count", null, histogram.Count);
    }

    public override string ToString() => _text.ToString();

    private void Header(string name, string help, string type)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    private void Sample(string name, string? label, double value)
    {
        _text.Append(name);
        string all = label is null ? _labels : _labels.Length == 0 ? label : _labels + "," + label;
        if (all.Length > 0) _text.Append('{').Append(all).Append('}');
        _text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Label(string name, string value) =>
        $"{name}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"";

    /// <summary>Go's ParseFloat reads what "R" writes; the infinities and NaN have the format's own spellings.</summary>
    public static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
