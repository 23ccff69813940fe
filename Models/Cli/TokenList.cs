using System.Globalization;

namespace Tessera.Models.Cli;

/// <summary>Parses "1,2,3" token lists given on the command line.</summary>
internal static class TokenList
{
    public static int[] Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new FormatException("--tokens needs at least one token id, e.g. --tokens 1,2,3.");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out ids[i]))
                throw new FormatException($"--tokens: '{parts[i]}' is not an integer token id.");
        return ids;
    }
}
