using System.Globalization;

namespace Tessera.Parallelism;

/// <summary>Byte counts as people write them: "80GB", "512MiB", "1.5 GB", "4096".</summary>
public static class ByteSize
{
    // Decimal units are what device vendors print on the box (an "80GB" H100); binary ones are what allocators count.
    private static readonly (string Unit, long Factor)[] Units =
    [
        ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
        ("TB", 1_000_000_000_000L), ("GB", 1_000_000_000L), ("MB", 1_000_000L), ("KB", 1_000L), ("kB", 1_000L),
        ("B", 1L),
    ];

    /// <summary>Parses a size with an optional unit (B, KB, MB, GB, TB decimal; KiB, MiB, GiB, TiB binary), case-insensitive.</summary>
    /// <exception cref="FormatException">the text is not a non-negative size in a known unit</exception>
    public static long Parse(string text) =>
        TryParse(text, out long bytes) ? bytes
        : throw new FormatException($"\"{text}\" is not a memory size: write a number with an optional unit, e.g. 80GB, 512MiB, 1.5GB (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).");

    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var s = text.Trim();
        long factor = 1;
        foreach (var (unit, f) in Units)
        {
            if (s.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
            {
                factor = f;
                s = s[..^unit.Length].TrimEnd();
                break;
            }
        }
        if (!double.TryParse(s, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value) || value < 0)
            return false;
        double total = Math.Round(value * factor);
        if (total > long.MaxValue) return false;
        bytes = (long)total;
        return true;
    }

    /// <summary>
    /// A readable size: a whole number of the largest unit that divides it exactly, decimal or binary ("80 GB",
    /// "512 MiB"), else two decimals of a decimal unit ("1.21 GB").
    /// </summary>
    public static string Format(long bytes)
    {
        if (bytes < 0) return "-" + Format(-bytes);
        if (bytes < 1000) return bytes.ToString(CultureInfo.InvariantCulture) + " B";
        foreach (var (unit, factor) in Units.Where(u => u.Unit != "kB").OrderByDescending(u => u.Factor))
            if (factor > 1 && bytes % factor == 0 && bytes / factor < 1000)
                return (bytes / factor).ToString(CultureInfo.InvariantCulture) + " " + unit;
        foreach (var (unit, factor) in Units)
            if (!unit.Contains('i') && unit != "kB" && bytes >= factor)
                return (bytes / (double)factor).ToString("0.##", CultureInfo.InvariantCulture) + " " + unit;
        return bytes.ToString(CultureInfo.InvariantCulture) + " B";
    }
}
