using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// The methods of str and dict that chat templates call (<c>content.strip()</c>, <c>message.get('x')</c>,
/// <c>tool.items()</c>), with Python's behaviour. Lists have no methods here: the immutable sandbox Hugging Face renders
/// in refuses the mutating ones.
/// </summary>
internal static class Methods
{
    public static Builtin? Bind(object? target, string name) => target switch
    {
        string s => StringMethod(s, name),
        PyDict d => DictMethod(d, name),
        _ => null,
    };

    private static Builtin? DictMethod(PyDict dict, string name) => name switch
    {
        "items" => new Builtin("dict.items", a => dict.Select(p => (object?)new object?[] { p.Key, p.Value }).ToList()),
        "keys" => new Builtin("dict.keys", a => dict.Keys.Cast<object?>().ToList()),
        "values" => new Builtin("dict.values", a => dict.Values.ToList()),
        "get" => new Builtin("dict.get", a =>
        {
            var key = a.Check(2).Required(0, "key");
            return key is not null && key is not Undefined && dict.TryGetValue(key, out var value) ? value : a.Get(1, "default");
        }),
        _ => null,
    };

    private static Builtin? StringMethod(string s, string name) => name switch
    {
        "startswith" => new Builtin("str.startswith", a => Affix(s, a.Check(1).Required(0, "prefix"), start: true)),
        "endswith" => new Builtin("str.endswith", a => Affix(s, a.Check(1).Required(0, "suffix"), start: false)),
        "strip" => new Builtin("str.strip", a => Strip(s, a.Check(1).Get(0, "chars"), left: true, right: true)),
        "lstrip" => new Builtin("str.lstrip", a => Strip(s, a.Check(1).Get(0, "chars"), left: true, right: false)),
        "rstrip" => new Builtin("str.rstrip", a => Strip(s, a.Check(1).Get(0, "chars"), left: false, right: true)),
        "split" => new Builtin("str.split", a => Split(s, a.Check(2, "sep", "maxsplit").Get(0, "sep"), MaxSplit(a), fromRight: false)),
        "rsplit" => new Builtin("str.rsplit", a => Split(s, a.Check(2, "sep", "maxsplit").Get(0, "sep"), MaxSplit(a), fromRight: true)),
        "upper" => new Builtin("str.upper", _ => s.ToUpperInvariant()),
        "lower" => new Builtin("str.lower", _ => s.ToLowerInvariant()),
        "title" => new Builtin("str.title", _ => Title(s)),
        "capitalize" => new Builtin("str.capitalize", _ => Capitalize(s)),
        "replace" => new Builtin("str.replace", a => Replace(s, Text(a.Check(3).Required(0, "old")), Text(a.Required(1, "new")), a.Get(2, "count") is long n ? n : -1)),
        "find" => new Builtin("str.find", a => (long)CodePointIndex(s, s.IndexOf(Text(a.Check(1).Required(0, "sub")), StringComparison.Ordinal))),
        "rfind" => new Builtin("str.rfind", a => (long)CodePointIndex(s, s.LastIndexOf(Text(a.Check(1).Required(0, "sub")), StringComparison.Ordinal))),
        "count" => new Builtin("str.count", a => (long)Count(s, Text(a.Check(1).Required(0, "sub")))),
        "join" => new Builtin("str.join", a => string.Join(s, Py.Iterate(a.Check(1).Required(0, "iterable")).Select(x => x as string ?? throw new TemplateException($"str.join() expects strings, got {Py.TypeName(x)}")))),
        "splitlines" => new Builtin("str.splitlines", _ => SplitLines(s).Cast<object?>().ToList()),
        "isdigit" => new Builtin("str.isdigit", _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => new Builtin("str.isalpha", _ => s.Length > 0 && s.All(char.IsLetter)),
        "isspace" => new Builtin("str.isspace", _ => s.Length > 0 && s.All(Lexer.IsPyWhitespace)),
        "isalnum" => new Builtin("str.isalnum", _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "islower" => new Builtin("str.islower", _ => s.Any(char.IsLower) && !s.Any(char.IsUpper)),
        "isupper" => new Builtin("str.isupper", _ => s.Any(char.IsUpper) && !s.Any(char.IsLower)),
        "format" => new Builtin("str.format", a => Format(s, a)),
        _ => null,
    };

    public static string Text(object? value) => value as string ?? throw new TemplateException($"expected a string, got {Py.TypeName(value)}");

    private static long MaxSplit(Arguments a) => a.Get(1, "maxsplit", -1L) is long n ? n : throw new TemplateException("maxsplit must be an integer");

    private static bool Affix(string s, object? affix, bool start)
    {
        var options = affix is object?[] tuple ? tuple.Select(Text) : [Text(affix)];
        return options.Any(o => start ? s.StartsWith(o, StringComparison.Ordinal) : s.EndsWith(o, StringComparison.Ordinal));
    }

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        var set = chars is null ? Lexer.PyWhitespace : Text(chars).ToCharArray();
        return left && right ? s.Trim(set) : left ? s.TrimStart(set) : s.TrimEnd(set);
    }

    /// <summary>Python's str.split / rsplit: with no separator, on runs of whitespace, empty parts dropped.</summary>
    private static List<object?> Split(string s, object? separator, long maxSplit, bool fromRight)
    {
        var parts = new List<object?>();
        if (separator is null)
        {
            var words = s.Split(Lexer.PyWhitespace, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || words.Length <= maxSplit + 1) return [.. words];
            // The rest keeps its inner whitespace: cut the string after maxSplit words.
            if (!fromRight)
            {
                string rest = s.TrimStart(Lexer.PyWhitespace);
                for (int i = 0; i < maxSplit; i++)
                {
                    int end = rest.IndexOfAny(Lexer.PyWhitespace);
                    parts.Add(rest[..end]);
                    rest = rest[end..].TrimStart(Lexer.PyWhitespace);
                }
                parts.Add(rest);
                return parts;
            }
            string head = s.TrimEnd(Lexer.PyWhitespace);
            for (int i = 0; i < maxSplit; i++)
            {
                int start = head.LastIndexOfAny(Lexer.PyWhitespace);
                parts.Insert(0, head[(start + 1)..]);
                head = head[..start].TrimEnd(Lexer.PyWhitespace);
            }
            parts.Insert(0, head);
            return parts;
        }
        string sep = Text(separator);
        if (sep.Length == 0) throw new TemplateException("empty separator");
        var all = s.Split(sep);
        if (maxSplit < 0 || all.Length <= maxSplit + 1) return [.. all];
        int keep = (int)maxSplit;
        return fromRight
            ? [string.Join(sep, all[..^keep]), .. all[^keep..]]
            : [.. all[..keep], string.Join(sep, all[keep..])];
    }

    /// <summary>Python's str.title: a letter after a non-letter is upper case, other letters lower.</summary>
    public static string Title(string s)
    {
        var text = new StringBuilder(s.Length);
        bool previousCased = false;
        foreach (char c in s)
        {
            text.Append(previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousCased = char.IsLetter(c);
        }
        return text.ToString();
    }

    public static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(replacement, ["", .. Py.CodePoints(s), ""]) : s.Replace(old, replacement, StringComparison.Ordinal);
        var text = new StringBuilder();
        int at = 0;
        for (long n = 0; n < count; n++)
        {
            int found = s.IndexOf(old, at, StringComparison.Ordinal);
            if (found < 0 || old.Length == 0) break;
            text.Append(s, at, found - at).Append(replacement);
            at = found + old.Length;
        }
        return text.Append(s, at, s.Length - at).ToString();
    }

    private static int CodePointIndex(string s, int utf16Index) => utf16Index < 0 ? -1 : Py.CodePoints(s[..utf16Index]).Length;

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return Py.CodePoints(s).Length + 1;
        int n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    /// <summary>Python's str.splitlines (line ends dropped).</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    /// <summary>str.format with <c>{}</c>, <c>{0}</c> and <c>{name}</c> fields (no format specs) and <c>{{ }}</c> escapes.</summary>
    private static string Format(string s, Arguments a)
    {
        var text = new StringBuilder();
        int next = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{') { text.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < s.Length && s[i + 1] == '}') { text.Append('}'); i++; continue; }
            if (c != '{') { text.Append(c); continue; }
            int close = s.IndexOf('}', i);
            if (close < 0) throw new TemplateException("str.format: a '{' is never closed");
            string field = s[(i + 1)..close];
            if (field.Contains(':') || field.Contains('!')) throw new TemplateException("str.format: format specs are not supported");
            object? value = field.Length == 0 ? a.Get(next++, "\0")
                : int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int index) ? a.Get(index, "\0")
                : a.Named.TryGetValue(field, out var named) ? named : throw new TemplateException($"str.format: no argument '{field}'");
            text.Append(Py.Str(value));
            i = close;
        }
        return text.ToString();
    }
}
