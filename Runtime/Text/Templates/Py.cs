using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>Python's semantics for template values: truth, str() and repr(), equality and order, arithmetic, len() and iteration.</summary>
internal static class Py
{
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        PyDict => "dict",
        Namespace => "Namespace",
        LoopInfo => "LoopContext",
        _ => "function",
    };

    public static bool Truthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        object?[] tuple => tuple.Length > 0,
        PyDict dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(): how <c>{{ value }}</c> prints it.</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var text = new StringBuilder();
        Repr(value, text, 0);
        return text.ToString();
    }

    private static void Repr(object? value, StringBuilder text, int depth)
    {
        if (depth > 100) throw new TemplateException("a value nests too deeply to print");
        switch (value)
        {
            case string s:
                StringRepr(s, text);
                break;
            case List<object?> list:
                text.Append('[');
                for (int i = 0; i < list.Count; i++) Repr(list[i], text.Append(i > 0 ? ", " : ""), depth + 1);
                text.Append(']');
                break;
            case object?[] tuple:
                text.Append('(');
                for (int i = 0; i < tuple.Length; i++) Repr(tuple[i], text.Append(i > 0 ? ", " : ""), depth + 1);
                text.Append(tuple.Length == 1 ? ",)" : ")");
                break;
            case PyDict dict:
                text.Append('{');
                int n = 0;
                foreach (var (key, item) in dict)
                {
                    Repr(key, text.Append(n++ > 0 ? ", " : ""), depth + 1);
                    Repr(item, text.Append(": "), depth + 1);
                }
                text.Append('}');
                break;
            case Namespace ns:
                text.Append("<Namespace ");
                Repr(new PyDict().Also(d => { foreach (var (k, v) in ns.Attributes) d[k] = v; }), text, depth + 1);
                text.Append('>');
                break;
            case null or bool or long or double or Undefined:
                text.Append(Str(value));
                break;
            default:
                text.Append(value is Builtin b ? $"<built-in function {b.Name}>" : value is Macro m ? $"<Macro '{m.Name}'>" : $"<{TypeName(value)}>");
                break;
        }
    }

    private static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    private static void StringRepr(string s, StringBuilder text)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        text.Append(quote);
        foreach (char c in s)
        {
            if (c == quote || c == '\\') text.Append('\\').Append(c);
            else if (c == '\n') text.Append("\\n");
            else if (c == '\r') text.Append("\\r");
            else if (c == '\t') text.Append("\\t");
            else if (c < 0x20 || c == 0x7f) text.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
            else text.Append(c);
        }
        text.Append(quote);
    }

    /// <summary>Python's repr of a float: the shortest text that reads back, fixed between 1e-4 and 1e16, else scientific.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return 1 / d < 0 ? "-0.0" : "0.0";
        // Shortest round-trip digits: "R" gives them; split into sign, digits and the decimal exponent.
        string shortest = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = shortest.StartsWith('-');
        if (negative) shortest = shortest[1..];
        int exponent = 0;
        int e = shortest.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(shortest.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            shortest = shortest[..e];
        }
        int dot = shortest.IndexOf('.');
        string digits = dot < 0 ? shortest : shortest.Remove(dot, 1);
        int pointAt = (dot < 0 ? shortest.Length : dot) + exponent;
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0')
        {
            lead++;
            pointAt--;
        }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sciExponent = pointAt - 1;
        string body;
        if (sciExponent < -4 || sciExponent >= 16)
        {
            string mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            body = mantissa + "e" + (sciExponent < 0 ? "-" : "+") + Math.Abs(sciExponent).ToString("00", CultureInfo.InvariantCulture);
        }
        else if (pointAt <= 0) body = "0." + new string('0', -pointAt) + digits;
        else if (pointAt >= digits.Length) body = digits + new string('0', pointAt - digits.Length) + ".0";
        else body = digits[..pointAt] + "." + digits[pointAt..];
        return negative ? "-" + body : body;
    }

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidCastException(),
    };

    public static bool AreEqual(object? a, object? b) => AreEqual(a, b, 0);

    private static bool AreEqual(object? a, object? b, int depth)
    {
        if (depth > 100) throw new TemplateException("values nest too deeply to compare");
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) == ToDouble(b) : ToLong(a) == ToLong(b);
        switch (a)
        {
            case null: return b is null;
            case string s: return b is string t && s == t;
            case Undefined: return b is Undefined;
            case List<object?> x when b is List<object?> y: return SequenceEqual(x, y, depth);
            case object?[] x when b is object?[] y: return SequenceEqual(x, y, depth);
            case PyDict x when b is PyDict y:
                if (x.Count != y.Count) return false;
                foreach (var (key, item) in x)
                    if (!y.TryGetValue(key, out var other) || !AreEqual(item, other, depth + 1)) return false;
                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static bool SequenceEqual(IReadOnlyList<object?> x, IReadOnlyList<object?> y, int depth)
    {
        if (ReferenceEquals(x, y)) return true;
        if (x.Count != y.Count) return false;
        for (int i = 0; i < x.Count; i++)
            if (!AreEqual(x[i], y[i], depth + 1)) return false;
        return true;
    }

    private static long ToLong(object? value) => value is bool b ? (b ? 1 : 0) : (long)value!;

    /// <summary>Python's order (&lt;): numbers, strings by code point, lists and tuples item by item; else a TypeError.</summary>
    public static int Compare(object? a, object? b, string op, int depth = 0)
    {
        if (depth > 100) throw new TemplateException("values nest too deeply to compare");
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a).CompareTo(ToDouble(b)) : ToLong(a).CompareTo(ToLong(b));
        if (a is string s && b is string t) return string.CompareOrdinal(s, t);
        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var x = (IReadOnlyList<object?>)a;
            var y = (IReadOnlyList<object?>)b;
            for (int i = 0; i < Math.Min(x.Count, y.Count); i++)
                if (!AreEqual(x[i], y[i])) return Compare(x[i], y[i], op, depth + 1);
            return x.Count.CompareTo(y.Count);
        }
        if (a is Undefined u) throw u.Fail(0);
        if (b is Undefined v) throw v.Fail(0);
        throw new TemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    /// <summary>Python's <c>in</c>.</summary>
    public static bool Contains(object? container, object? item) => container switch
    {
        string s => item is string t ? s.Contains(t, StringComparison.Ordinal) : throw new TemplateException($"'in <string>' requires string as left operand, not {TypeName(item)}"),
        PyDict dict => item is not null && dict.ContainsKey(item),
        List<object?> list => list.Any(x => AreEqual(x, item)),
        object?[] tuple => tuple.Any(x => AreEqual(x, item)),
        Undefined => false,
        _ => throw new TemplateException($"argument of type '{TypeName(container)}' is not iterable"),
    };

    /// <summary>Python's len(); a string's length in code points.</summary>
    public static long Len(object? value) => value switch
    {
        string s => CodePoints(s).Length,
        List<object?> list => list.Count,
        object?[] tuple => tuple.Length,
        PyDict dict => dict.Count,
        Undefined => 0,
        _ => throw new TemplateException($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>What a for loop walks: a sequence's items, a dict's keys, a string's characters; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        List<object?> list => list,
        object?[] tuple => tuple,
        PyDict dict => [.. dict.Keys],
        string s => CodePoints(s),
        Undefined => [],
        _ => throw new TemplateException($"'{TypeName(value)}' object is not iterable"),
    };

    /// <summary>A string's characters as Python counts them (a surrogate pair is one).</summary>
    public static string[] CodePoints(string s)
    {
        var result = new List<string>(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i, 2));
                i++;
            }
            else result.Add(s[i].ToString());
        }
        return [.. result];
    }

    // Arithmetic

    public static object? Add(object? a, object? b, int maxChars)
    {
        if (IsNumber(a) && IsNumber(b)) return a is double || b is double ? (object)(ToDouble(a) + ToDouble(b)) : Checked(() => checked(ToLong(a) + ToLong(b)));
        if (a is string s && b is string t) return LimitLength(s.Length + (long)t.Length, maxChars) ? s + t : null;
        if (a is List<object?> x && b is List<object?> y) return new List<object?>(x.Concat(y));
        if (a is object?[] p && b is object?[] q) return p.Concat(q).ToArray();
        throw Unsupported("+", a, b);
    }

    public static object? Arithmetic(string op, object? a, object? b, int maxChars)
    {
        if (op == "*")
        {
            if (a is string s && b is long or bool) return Repeat(s, ToLong(b), maxChars);
            if (b is string t && a is long or bool) return Repeat(t, ToLong(a), maxChars);
            if (a is List<object?> list && b is long n) return LimitLength(list.Count * Math.Max(0, n), maxChars) ? Enumerable.Range(0, (int)Math.Max(0, n)).SelectMany(_ => list).ToList() : null;
        }
        if (op == "%" && a is string format) return PrintfFormat.Apply(format, b, maxChars);
        if (a is Undefined u) throw u.Fail(0, $"used with '{op}'");
        if (b is Undefined v) throw v.Fail(0, $"used with '{op}'");
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported(op, a, b);
        bool floats = a is double || b is double;
        switch (op)
        {
            case "-": return floats ? (object)(ToDouble(a) - ToDouble(b)) : Checked(() => checked(ToLong(a) - ToLong(b)));
            case "*": return floats ? (object)(ToDouble(a) * ToDouble(b)) : Checked(() => checked(ToLong(a) * ToLong(b)));
            case "/":
                if (ToDouble(b) == 0) throw new TemplateException("division by zero");
                return ToDouble(a) / ToDouble(b);
            case "//":
                if (ToDouble(b) == 0) throw new TemplateException("integer division or modulo by zero");
                if (floats) return Math.Floor(ToDouble(a) / ToDouble(b));
                long q = ToLong(a) / ToLong(b);
                return (object)((ToLong(a) % ToLong(b) != 0 && (ToLong(a) < 0) != (ToLong(b) < 0)) ? q - 1 : q);
            case "%":
                if (ToDouble(b) == 0) throw new TemplateException("integer division or modulo by zero");
                if (floats)
                {
                    double m = ToDouble(a) % ToDouble(b);
                    return (object)(m != 0 && (m < 0) != (ToDouble(b) < 0) ? m + ToDouble(b) : m);
                }
                long r = ToLong(a) % ToLong(b);
                return (object)(r != 0 && (r < 0) != (ToLong(b) < 0) ? r + ToLong(b) : r);
            case "**":
                if (!floats && ToLong(b) >= 0)
                {
                    long result = 1, x = ToLong(a);
                    for (long i = 0; i < ToLong(b); i++)
                    {
                        result = Checked(() => checked(result * x));
                        if (result == 0 || result == 1 && x == 1) break;
                    }
                    return result;
                }
                return Math.Pow(ToDouble(a), ToDouble(b));
            default: throw new TemplateException($"unknown operator '{op}'");
        }
    }

    private static string Repeat(string s, long times, int maxChars)
    {
        if (times <= 0 || s.Length == 0) return "";
        LimitLength(s.Length * times, maxChars);
        return new StringBuilder(s.Length * (int)times).Insert(0, s, (int)times).ToString();
    }

    /// <summary>Refuses a string or list longer than the render's limit.</summary>
    public static bool LimitLength(long length, int maxChars) =>
        length <= maxChars ? true : throw new TemplateException($"the template builds a value of {length} items or characters, more than the limit ({maxChars})");

    private static long Checked(Func<long> operation)
    {
        try
        {
            return operation();
        }
        catch (OverflowException)
        {
            throw new TemplateException("an integer is too large (past 64 bits)");
        }
    }

    private static TemplateException Unsupported(string op, object? a, object? b)
    {
        if (a is Undefined u) return u.Fail(0, $"used with '{op}'");
        if (b is Undefined v) return v.Fail(0, $"used with '{op}'");
        return new TemplateException($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");
    }
}
