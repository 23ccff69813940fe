using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Text.Templates;

/// <summary>
/// JSON in and out of templates: <see cref="FromJson"/> turns request JSON into template values as Python's json.loads
/// does (an integer literal is an int, one with a point or exponent a float); <see cref="ToJson"/> is Hugging Face's
/// <c>tojson</c> filter, Python's <c>json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)</c>.
/// </summary>
internal static class JsonValues
{
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => obj.Aggregate(new PyDict(), (dict, p) =>
        {
            dict[p.Key] = FromJson(p.Value);
            return dict;
        }),
        JsonArray array => array.Select(FromJson).ToList(),
        JsonValue value => value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            JsonValueKind.Number => Number(value.ToJsonString()),
            _ => throw new TemplateException($"unsupported JSON value {value.ToJsonString()}"),
        },
        _ => throw new TemplateException("unsupported JSON node"),
    };

    private static object Number(string text) =>
        text.AsSpan().IndexOfAny(".eE") < 0 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)
            ? (object)l : double.Parse(text, CultureInfo.InvariantCulture);

    public static string ToJson(object? value, object? indent, string itemSeparator, string keySeparator, bool sortKeys, int maxChars)
    {
        string? indentText = indent switch
        {
            null => null,
            long n => new string(' ', (int)Math.Clamp(n, 0, 64)),
            string s => s,
            _ => throw new TemplateException($"tojson: indent must be an integer or a string, not {Py.TypeName(indent)}"),
        };
        var text = new StringBuilder();
        Write(value, text, indentText, itemSeparator, keySeparator, sortKeys, 0, maxChars);
        return text.ToString();
    }

    private static void Write(object? value, StringBuilder text, string? indent, string itemSeparator, string keySeparator, bool sortKeys, int depth, int maxChars)
    {
        if (depth > 100) throw new TemplateException("tojson: the value nests too deeply");
        if (text.Length > maxChars) Py.LimitLength(text.Length, maxChars);
        switch (value)
        {
            case null: text.Append("null"); break;
            case bool b: text.Append(b ? "true" : "false"); break;
            case long l: text.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: text.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : Py.FloatRepr(d)); break;
            case string s: String(s, text); break;
            case List<object?> or object?[]:
                var items = (IReadOnlyList<object?>)value;
                if (items.Count == 0) { text.Append("[]"); break; }
                text.Append('[');
                for (int i = 0; i < items.Count; i++)
                {
                    if (i > 0) text.Append(itemSeparator);
                    NewLine(text, indent, depth + 1);
                    Write(items[i], text, indent, itemSeparator, keySeparator, sortKeys, depth + 1, maxChars);
                }
                NewLine(text, indent, depth);
                text.Append(']');
                break;
            case PyDict dict:
                if (dict.Count == 0) { text.Append("{}"); break; }
                text.Append('{');
                var pairs = dict.Select(p => (Key: KeyText(p.Key), p.Value)).ToList();
                if (sortKeys) pairs.Sort((x, y) => string.CompareOrdinal(x.Key, y.Key));
                for (int i = 0; i < pairs.Count; i++)
                {
                    if (i > 0) text.Append(itemSeparator);
                    NewLine(text, indent, depth + 1);
                    String(pairs[i].Key, text);
                    text.Append(keySeparator);
                    Write(pairs[i].Value, text, indent, itemSeparator, keySeparator, sortKeys, depth + 1, maxChars);
                }
                NewLine(text, indent, depth);
                text.Append('}');
                break;
            case Undefined u:
                throw new TemplateException($"tojson: Object of type Undefined is not JSON serializable ({u.Description})");
            default:
                throw new TemplateException($"tojson: Object of type {Py.TypeName(value)} is not JSON serializable");
        }
    }

    private static string KeyText(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Py.FloatRepr(d),
        _ => throw new TemplateException($"tojson: keys must be str, int, float or bool, not {Py.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder text, string? indent, int depth)
    {
        if (indent is null) return;
        text.Append('\n');
        for (int i = 0; i < depth; i++) text.Append(indent);
    }

    /// <summary>A JSON string as Python writes it with ensure_ascii=False: only quotes, backslashes and control characters escaped.</summary>
    private static void String(string s, StringBuilder text)
    {
        text.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }
}
