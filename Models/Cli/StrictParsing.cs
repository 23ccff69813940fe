using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace Tessera.Models.Cli;

/// <summary>
/// How every command line is read. Numbers are invariant and exact: System.CommandLine parses them with the current
/// culture and the default styles, which take "1,5" as 15 (a thousands separator) or, under a German culture, 1.5; here
/// an integer is digits with an optional sign and a real number is written with a point (1.5, 1e-3), anything else an
/// error. And a command line it refuses is one <c>error:</c> line, as every other failure of the CLI is, not its usage text.
/// </summary>
internal static class StrictParsing
{
    /// <summary>Gives every numeric option of <paramref name="command"/> and its subcommands the strict parser.</summary>
    public static void Apply(Command command)
    {
        foreach (var option in command.Options)
        {
            switch (option)
            {
                case Option<int> o: o.CustomParser = Parser(o, NumberStyles.Integer, (int v) => v); break;
                case Option<int?> o: o.CustomParser = Parser(o, NumberStyles.Integer, (int v) => (int?)v); break;
                case Option<long> o: o.CustomParser = Parser(o, NumberStyles.Integer, (long v) => v); break;
                case Option<long?> o: o.CustomParser = Parser(o, NumberStyles.Integer, (long v) => (long?)v); break;
                case Option<float> o: o.CustomParser = Parser(o, NumberStyles.Float, (float v) => v); break;
                case Option<float?> o: o.CustomParser = Parser(o, NumberStyles.Float, (float v) => (float?)v); break;
                case Option<double> o: o.CustomParser = Parser(o, NumberStyles.Float, (double v) => v); break;
                case Option<double?> o: o.CustomParser = Parser(o, NumberStyles.Float, (double v) => (double?)v); break;
            }
        }
        foreach (var subcommand in command.Subcommands) Apply(subcommand);
    }

    private static Func<ArgumentResult, TValue?> Parser<TNumber, TValue>(Option<TValue> option, NumberStyles styles, Func<TNumber, TValue> value)
        where TNumber : INumber<TNumber>
    {
        var defaultValue = option.DefaultValueFactory;
        string kind = styles == NumberStyles.Integer ? "an integer" : "a number (with a point for decimals: 1.5)";
        return result =>
        {
            if (result.Tokens.Count == 0) return defaultValue is null ? default : defaultValue(result);
            string text = result.Tokens[^1].Value;
            if (TNumber.TryParse(text, styles, CultureInfo.InvariantCulture, out var number) && !(number is float f && !float.IsFinite(f)) && !(number is double d && !double.IsFinite(d)))
                return value(number);
            result.AddError($"{option.Name} '{text}' is not {kind}.");
            return default;
        };
    }

    /// <summary>System.CommandLine's complaints about a command line (unknown option, missing value, bad enum) as one <c>error:</c> line; exit code 1.</summary>
    public static int Refuse(ParseResult parsed)
    {
        string messages = string.Join(" ", parsed.Errors.Select(e => e.Message.Trim().TrimEnd('.') + "."));
        string command = parsed.CommandResult.Command is RootCommand ? "tessera" : $"tessera {parsed.CommandResult.Command.Name}";
        Console.Error.WriteLine($"error: {string.Join(" ", messages.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))} ({command} --help lists the options.)");
        return 1;
    }
}
