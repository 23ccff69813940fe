using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// Python's printf-style <c>'format' % values</c>: <c>%s %r %d %i %f %x %%</c> with optional <c>-</c>/<c>0</c> flags,
/// width and precision, and <c>%(name)s</c> keys when the values are a dict.
/// </summary>
internal static class PrintfFormat
{
    public static string Apply(string format, object? values, int maxChars)
    {
        var args = values is object?[] tuple ? tuple : [values];
        var text = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%')
            {
                text.Append(format[i]);
                continue;
            }
            if (++i >= format.Length) throw new TemplateException("incomplete format");
            object? value;
            string? key = null;
            if (format[i] == '(')
            {
                int close = format.IndexOf(')', i);
                if (close < 0) throw new TemplateException("incomplete format key");
                key = format[(i + 1)..close];
                i = close + 1;
            }
            bool left = false, zero = false;
            for (; i < format.Length && format[i] is '-' or '0' or ' ' or '+'; i++)
            {
                left |= format[i] == '-';
                zero |= format[i] == '0';
            }
            int width = 0, precision = -1;
            for (; i < format.Length && char.IsAsciiDigit(format[i]); i++) width = Math.Min(width * 10 + (format[i] - '0'), maxChars);
            if (i < format.Length && format[i] == '.')
                for (precision = 0, i++; i < format.Length && char.IsAsciiDigit(format[i]); i++) precision = Math.Min(precision * 10 + (format[i] - '0'), 100);
            if (i >= format.Length) throw new TemplateException("incomplete format");
            char conversion = format[i];
            if (conversion == '%')
            {
                text.Append('%');
                continue;
            }
            if (key is not null) value = values is PyDict dict && dict.TryGetValue(key, out var named) ? named : throw new TemplateException($"format requires a mapping with key '{key}'");
            else value = next < args.Length ? args[next++] : throw new TemplateException("not enough arguments for format string");
            string piece = conversion switch
            {
                's' => Py.Str(value),
                'r' or 'a' => Py.Repr(value),
                'd' or 'i' or 'u' => Integer(value).ToString(CultureInfo.InvariantCulture),
                'f' or 'F' => Py.ToDouble(Number(value)).ToString("F" + (precision < 0 ? 6 : precision), CultureInfo.InvariantCulture),
                'x' => Integer(value).ToString("x", CultureInfo.InvariantCulture),
                'X' => Integer(value).ToString("X", CultureInfo.InvariantCulture),
                _ => throw new TemplateException($"unsupported format character '{conversion}'"),
            };
            if (conversion == 's' && precision >= 0 && piece.Length > precision) piece = piece[..precision];
            if (piece.Length < width) piece = left ? piece.PadRight(width) : zero && conversion != 's' ? piece.PadLeft(width, '0') : piece.PadLeft(width);
            text.Append(piece);
            Py.LimitLength(text.Length, maxChars);
        }
        if (next < args.Length && values is not PyDict) throw new TemplateException("not all arguments converted during string formatting");
        return text.ToString();
    }

    private static object Number(object? value) => Py.IsNumber(value) ? value! : throw new TemplateException($"a number is required, not {Py.TypeName(value)}");

    private static long Integer(object? value) => Number(value) switch
    {
        double d => (long)Math.Truncate(d),
        bool b => b ? 1 : 0,
        var l => (long)l,
    };
}
