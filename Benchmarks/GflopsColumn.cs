using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Tessera.Benchmarks;

/// <summary>A benchmark class whose cases have a known flop count per operation.</summary>
public interface IFlopCount
{
    /// <summary>Floating-point operations of one benchmark invocation for the current parameters.</summary>
    double Flops { get; }
}

/// <summary>GFLOP/s = flops per operation / mean time; blank for benchmarks that do not implement <see cref="IFlopCount"/>.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Billions of floating-point operations per second (mean time)";

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats) return "-";
        if (Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IFlopCount counter) return "-";
        // Apply this case's parameters to a fresh instance to get its flop count.
        foreach (var p in benchmarkCase.Parameters.Items)
        {
            var type = benchmarkCase.Descriptor.Type;
            if (type.GetProperty(p.Name) is { } property) property.SetValue(counter, p.Value);
            else type.GetField(p.Name)?.SetValue(counter, p.Value);
        }
        double seconds = stats.Mean * 1e-9;
        return (counter.Flops / seconds / 1e9).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}
