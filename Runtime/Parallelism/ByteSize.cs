using System.Globalization;

namespace Tessera.Parallelism;

/// <summary>Byte counts as people write them: "80GB", "512MiB", "1.5 GB", "4096".</summary>
public static class ByteSize
{
    /// <summary>Parses a size with an optional unit (B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary), case-insensitive.</summary>
    /// <exception cref="FormatException">the text is not a non-negative size in a known unit</exception>
    public static long Parse(string text) =>
        TryParse(text, out long bytes) ? bytes
        : throw new FormatException($"\"{text}\" is not a memory size: write a number with an optional unit, e.g. 80GB, 512MiB, 1.5GB (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).");

    /// <summary>Like <see cref="Parse"/>, false instead of an exception (the rules are shared with the generator's plan checks).</summary>
    public static bool TryParse(string? text, out long bytes) => PlanArithmetic.TryParseBytes(text, out bytes);

    /// <summary>
    /// A readable size: a whole number of the largest unit that divides it exactly, decimal or binary ("80 GB",
    /// "512 MiB"), else two decimals of a decimal unit ("1.21 GB").
    /// </summary>
    public static string Format(long bytes)
    {
        if (bytes < 0) return "-" + Format(-bytes);
        if (bytes < 1000) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        foreach (var (unit, factor) in PlanArithmetic.Units.Where(u => u.Unit != "kB").OrderByDescending(u => u.Factor))
            if (factor > 1 && bytes % factor == 0 && bytes / factor < 1000)
                return (bytes / factor).ToString(CultureInfo.InvariantCulture) + " " + unit;
        foreach (var (unit, factor) in PlanArithmetic.Units)
            if (!unit.Contains('i') && unit != "kB" && bytes >= factor)
                return (bytes / (double)factor).ToString("0.##", CultureInfo.InvariantCulture) + " " + unit;
        return bytes.ToString(CultureInfo.InvariantCulture) + " B";
    }
}
