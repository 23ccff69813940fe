using System.Globalization;
using System.Text.RegularExpressions;

namespace Tessera.Text.Templates;

/// <summary>
/// Jinja2's built-in filters that chat templates use, with Jinja2 3.1's behaviour, plus Hugging Face's <c>tojson</c>.
/// Autoescape is off in chat templates, so <c>safe</c> is the identity.
/// </summary>
internal static partial class Filters
{
    /// <summary>Every filter this interpreter knows: a template naming another fails when parsed, as Jinja2 fails when it compiles.</summary>
    public static readonly IReadOnlySet<string> Names = new HashSet<string>(StringComparer.Ordinal)
    {
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "forceescape",
        "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
        "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper", "wordcount",
    };

    public static object? Apply(Evaluator evaluator, string name, object? value, Arguments a, int line)
    {
        try
        {
            return Run(evaluator, name, value, a, line);
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, line, raisedByTemplate: e.RaisedByTemplate);
        }
    }

    private static object? Run(Evaluator evaluator, string name, object? value, Arguments a, int line)
    {
        switch (name)
        {
            case "default" or "d":
                a.Check(2, "default_value", "boolean");
                bool boolean = Py.Truthy(a.Get(1, "boolean", false));
                return value is Undefined || (boolean && !Py.Truthy(value)) ? a.Get(0, "default_value", "") : value;
            case "tojson":
                a.Check(4, "ensure_ascii", "indent", "separators", "sort_keys");
                var indent = a.Get(1, "indent");
                string item = indent is null ? ", " : ",", key = ": ";
                if (a.Get(2, "separators") is IReadOnlyList<object?> pair)
                {
                    if (pair.Count != 2) throw new TemplateException("tojson: separators must be a pair (item, key)");
                    item = Methods.Text(pair[0]);
                    key = Methods.Text(pair[1]);
                }
                return JsonValues.ToJson(value, indent, item, key, Py.Truthy(a.Get(3, "sort_keys", false)), evaluator.MaxChars);
            case "trim":
                return Methods.Strip(Py.Str(value), a.Check(1, "chars").Get(0, "chars"), left: true, right: true);
            case "upper": return Py.Str(value).ToUpperInvariant();
            case "lower": return Py.Str(value).ToLowerInvariant();
            case "capitalize": return Methods.Capitalize(Py.Str(value));
            case "title": return JinjaTitle(Py.Str(value));
            case "length" or "count": return Py.Len(value);
            case "first":
                var firstItems = Py.Iterate(value);
                return firstItems.Count > 0 ? firstItems[0] : new Undefined("the sequence is empty (first)");
            case "last":
                var lastItems = Py.Iterate(value);
                return lastItems.Count > 0 ? lastItems[^1] : new Undefined("the sequence is empty (last)");
            case "join":
                a.Check(2, "d", "attribute");
                var parts = Py.Iterate(value).Select(x => a.Get(1, "attribute") is { } attribute ? Attribute(x, attribute, line) : x);
                string joined = string.Join(Py.Str(a.Get(0, "d", "")), parts.Select(Py.Str));
                Py.LimitLength(joined.Length, evaluator.MaxChars);
                return joined;
            case "list": return Py.Iterate(value).ToList();
            case "items":
                if (value is Undefined) return new List<object?>();
                if (value is not PyDict dict) throw new TemplateException($"items: expected a mapping, not {Py.TypeName(value)}");
                return dict.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList();
            case "safe" or "string": return Py.Str(value);
            case "escape" or "e" or "forceescape": return Py.Str(value).Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("'", "&#39;").Replace("\"", "&#34;");
            case "int": return ToInt(value, a.Get(0, "default", 0L));
            case "float": return ToFloat(value, a.Get(0, "default", 0.0));
            case "replace":
                a.Check(3, "old", "new", "count");
                return Methods.Replace(Py.Str(value), Py.Str(a.Required(0, "old")), Py.Str(a.Required(1, "new")), a.Get(2, "count") is long count ? count : -1);
            case "selectattr" or "rejectattr":
                return Select(evaluator, value, a, line, byAttribute: true, keep: name == "selectattr");
            case "select" or "reject":
                return Select(evaluator, value, a, line, byAttribute: false, keep: name == "select");
            case "map": return Map(evaluator, value, a, line);
            case "reverse":
                if (value is string text) return string.Concat(Py.CodePoints(text).Reverse());
                return Py.Iterate(value).Reverse().ToList();
            case "unique":
                a.Check(2, "case_sensitive", "attribute");
                var seen = new List<object?>();
                var unique = new List<object?>();
                foreach (var x in Py.Iterate(value))
                {
                    var keyOf = SortKey(x, a.Get(1, "attribute"), Py.Truthy(a.Get(0, "case_sensitive", false)), line);
                    if (seen.Any(s => Py.AreEqual(s, keyOf))) continue;
                    seen.Add(keyOf);
                    unique.Add(x);
                }
                return unique;
            case "sort":
                a.Check(3, "reverse", "case_sensitive", "attribute");
                bool caseSensitive = Py.Truthy(a.Get(1, "case_sensitive", false));
                var attributeName = a.Get(2, "attribute");
                var sorted = Py.Iterate(value).Select(x => (Key: SortKey(x, attributeName, caseSensitive, line), Item: x)).ToList();
                var ordered = sorted.OrderBy(p => p.Key, Comparer<object?>.Create((x, y) => Py.Compare(x, y, "<"))).Select(p => p.Item).ToList();
                if (Py.Truthy(a.Get(0, "reverse", false))) ordered = sorted.OrderByDescending(p => p.Key, Comparer<object?>.Create((x, y) => Py.Compare(x, y, "<"))).Select(p => p.Item).ToList();
                return ordered;
            case "dictsort":
                if (value is not PyDict toSort) throw new TemplateException($"dictsort: expected a mapping, not {Py.TypeName(value)}");
                bool byValue = a.Get(1, "by", "key") is "value";
                bool dictCase = Py.Truthy(a.Get(0, "case_sensitive", false));
                var entries = toSort.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList();
                var byKey = Comparer<object?>.Create((x, y) => Py.Compare(x, y, "<"));
                var result = entries.OrderBy(e => SortKey(((object?[])e!)[byValue ? 1 : 0], null, dictCase, line), byKey).ToList();
                return Py.Truthy(a.Get(2, "reverse", false)) ? Enumerable.Reverse(result).ToList() : result;
            case "round":
                a.Check(2, "precision", "method");
                long precision = a.Get(0, "precision", 0L) is long p ? p : 0;
                string method = Py.Str(a.Get(1, "method", "common"));
                if (value is long integer && method == "common") return integer;
                double number = Py.ToDouble(value is long or double or bool ? value : throw new TemplateException($"round: expected a number, not {Py.TypeName(value)}"));
                double scale = Math.Pow(10, precision);
                return method switch
                {
                    "common" => Math.Round(number, (int)Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
                    "ceil" => Math.Ceiling(number * scale) / scale,
                    "floor" => Math.Floor(number * scale) / scale,
                    _ => throw new TemplateException("round: method must be 'common', 'ceil' or 'floor'"),
                };
            case "abs":
                return value switch
                {
                    long l => (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new TemplateException($"bad operand type for abs(): '{Py.TypeName(value)}'"),
                };
            case "indent": return Indent(Py.Str(value), a.Check(3, "width", "first", "blank"));
            case "wordcount": return (long)Word().Matches(Py.Str(value)).Count;
            case "center":
                string centered = Py.Str(value);
                int width = (int)Math.Clamp(a.Get(0, "width", 80L) is long w ? w : 80, 0, evaluator.MaxChars);
                if (centered.Length >= width) return centered;
                int left = (width - centered.Length) / 2 + ((width - centered.Length) & width & 1);
                return new string(' ', left) + centered + new string(' ', width - centered.Length - left);
            case "sum":
                object? total = a.Get(1, "start", 0L);
                foreach (var x in Py.Iterate(value)) total = Py.Add(total, a.Get(0, "attribute") is { } attr ? Attribute(x, attr, line) : x, evaluator.MaxChars);
                return total;
            case "min" or "max":
                var candidates = Py.Iterate(value);
                if (candidates.Count == 0) return new Undefined($"{name}: the sequence is empty");
                var best = candidates[0];
                foreach (var x in candidates.Skip(1))
                {
                    int order = Py.Compare(SortKey(x, a.Get(1, "attribute"), Py.Truthy(a.Get(0, "case_sensitive", false)), line),
                        SortKey(best, a.Get(1, "attribute"), Py.Truthy(a.Get(0, "case_sensitive", false)), line), "<");
                    if (name == "min" ? order < 0 : order > 0) best = x;
                }
                return best;
            case "format":
                // Jinja2's format filter: printf-style, positional values as a tuple, or named ones as a mapping.
                object? values = a.Named.Count > 0 ? a.Named.Aggregate(new PyDict(), (d, p) => { d[p.Key] = p.Value; return d; }) : a.Positional.ToArray();
                return PrintfFormat.Apply(Py.Str(value), values, evaluator.MaxChars);
            case "attr": return Access.Attribute(value, Py.Str(a.Required(0, "name")), line);
            case "batch":
                long size = a.Required(0, "linecount") is long n && n > 0 ? n : throw new TemplateException("batch: the size must be a positive integer");
                return Py.Iterate(value).Chunk((int)Math.Min(size, int.MaxValue)).Select(c => (object?)c.ToList()).ToList();
            default:
                throw new TemplateException($"unknown filter '{name}'", line);
        }
    }

    /// <summary>An attribute path <c>a.b</c> of an item, as Jinja's make_attrgetter reads it (item first, then attribute; digits index).</summary>
    public static object? Attribute(object? item, object? path, int line)
    {
        if (path is long index) return Access.Item(item, index, line);
        foreach (var part in Py.Str(path).Split('.'))
            item = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long i) ? Access.Item(item, i, line) : Access.Item(item, part, line);
        return item;
    }

    private static object? SortKey(object? item, object? attribute, bool caseSensitive, int line)
    {
        var key = attribute is null ? item : Attribute(item, attribute, line);
        return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
    }

    private static List<object?> Select(Evaluator evaluator, object? value, Arguments a, int line, bool byAttribute, bool keep)
    {
        int testAt = byAttribute ? 1 : 0;
        var testName = a.Positional.Count > testAt ? Py.Str(a.Positional[testAt]) : null;
        var testArguments = new Arguments(a.Positional.Skip(testAt + 1).ToList(), [], testName ?? "");
        var result = new List<object?>();
        foreach (var item in Py.Iterate(value))
        {
            var subject = byAttribute ? Attribute(item, a.Positional.Count > 0 ? a.Positional[0] : throw new TemplateException("selectattr/rejectattr need an attribute name"), line) : item;
            bool passed = testName is null ? Py.Truthy(subject) : TestFunctions.Apply(evaluator, testName, subject, testArguments, line);
            if (passed == keep) result.Add(item);
        }
        return result;
    }

    private static List<object?> Map(Evaluator evaluator, object? value, Arguments a, int line)
    {
        var items = Py.Iterate(value);
        if (a.Positional.Count == 0 && a.Named.TryGetValue("attribute", out var attribute))
        {
            bool hasDefault = a.Named.TryGetValue("default", out var fallback);
            return items.Select(x =>
            {
                var v = Attribute(x, attribute, line);
                return hasDefault && v is Undefined ? fallback : v;
            }).ToList();
        }
        if (a.Positional.Count == 0) throw new TemplateException("map: give a filter name or attribute=");
        string filter = Py.Str(a.Positional[0]);
        var rest = new Arguments(a.Positional.Skip(1).ToList(), a.Named, filter);
        return items.Select(x => Apply(evaluator, filter, x, rest, line)).ToList();
    }

    /// <summary>Jinja's title filter: each word (after spaces, '-', or an opening bracket) capitalized.</summary>
    private static string JinjaTitle(string s)
    {
        var parts = WordBeginning().Split(s);
        return string.Concat(parts.Where(p => p.Length > 0).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));
    }

    private static object? ToInt(object? value, object? fallback)
    {
        switch (value)
        {
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : fallback;
            case string s:
                string t = s.Trim(Lexer.PyWhitespace).Replace("_", "");
                if (long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long parsed)) return parsed;
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (object)(double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(Lexer.PyWhitespace), NumberStyles.Float, CultureInfo.InvariantCulture, out double f) => f,
        _ => fallback,
    };

    /// <summary>Jinja 3.1's indent: lines after the first (and the first with first=True) get the indent; blank lines only with blank=True.</summary>
    private static string Indent(string s, Arguments a)
    {
        var width = a.Get(0, "width", 4L);
        string indention = width is string w ? w : new string(' ', (int)Math.Clamp(width is long n ? n : 4, 0, 1000));
        bool first = Py.Truthy(a.Get(1, "first", false)), blank = Py.Truthy(a.Get(2, "blank", false));
        var lines = Methods.SplitLines(s + "\n");
        string rv;
        if (blank) rv = string.Join("\n" + indention, lines);
        else
        {
            rv = lines[0];
            if (lines.Count > 1) rv += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indention + l : l));
        }
        return first ? indention + rv : rv;
    }

    [GeneratedRegex(@"([-\s\(\{\[\<]+)")]
    private static partial Regex WordBeginning();

    [GeneratedRegex(@"\w+")]
    private static partial Regex Word();
}
