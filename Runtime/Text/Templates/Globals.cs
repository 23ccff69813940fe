using System.Globalization;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// The functions every template sees: Jinja2's <c>range</c>, <c>namespace</c> and <c>dict</c>, and Hugging Face's
/// <c>raise_exception(msg)</c> and <c>strftime_now(format)</c> (the local time, from the render's clock).
/// </summary>
internal static class Globals
{
    /// <summary>The sandbox's bound on range(): Jinja2's MAX_RANGE.</summary>
    private const long MaxRange = 100_000;

    public static void AddTo(Scope scope, TimeProvider clock)
    {
        scope.Set("range", new Builtin("range", Range));
        scope.Set("namespace", new Builtin("namespace", a =>
        {
            var ns = new Namespace();
            foreach (var initial in a.Positional)
                if (initial is PyDict dict)
                    foreach (var (key, value) in dict) ns.Attributes[Py.Str(key)] = value;
                else throw new TemplateException("namespace() takes a dict or named arguments");
            foreach (var (key, value) in a.Named) ns.Attributes[key] = value;
            return ns;
        }));
        scope.Set("dict", new Builtin("dict", a =>
        {
            var dict = new PyDict();
            foreach (var initial in a.Positional)
                if (initial is PyDict other)
                    foreach (var (key, value) in other) dict[key] = value;
                else throw new TemplateException("dict() takes a dict or named arguments");
            foreach (var (key, value) in a.Named) dict[key] = value;
            return dict;
        }));
        scope.Set("raise_exception", new Builtin("raise_exception", a =>
            throw new TemplateException(Py.Str(a.Get(0, "message", "")), raisedByTemplate: true)));
        scope.Set("strftime_now", new Builtin("strftime_now", a => Strftime(clock.GetLocalNow(), Methods.Text(a.Check(1).Required(0, "format")))));
    }

    private static object? Range(Arguments a)
    {
        long Int(object? value) => value is long l ? l : value is bool b ? (b ? 1 : 0) : throw new TemplateException($"range() expects integers, got {Py.TypeName(value)}");
        a.Check(3);
        long start = 0, stop, step = 1;
        if (a.Positional.Count == 1) stop = Int(a.Positional[0]);
        else if (a.Positional.Count >= 2)
        {
            start = Int(a.Positional[0]);
            stop = Int(a.Positional[1]);
            if (a.Positional.Count == 3) step = Int(a.Positional[2]);
        }
        else throw new TemplateException("range() expects 1 to 3 integers");
        if (step == 0) throw new TemplateException("range() arg 3 must not be zero");
        long count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > MaxRange) throw new TemplateException($"range() is too big: {count} items, the limit is {MaxRange}");
        var items = new List<object?>((int)count);
        for (long i = 0; i < count; i++) items.Add(start + i * step);
        return items;
    }

    /// <summary>Python's strftime for the C locale's common directives.</summary>
    public static string Strftime(DateTimeOffset time, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                text.Append(format[i]);
                continue;
            }
            char d = format[++i];
            text.Append(d switch
            {
                'Y' => time.Year.ToString("0000", c),
                'y' => (time.Year % 100).ToString("00", c),
                'm' => time.Month.ToString("00", c),
                'd' => time.Day.ToString("00", c),
                'e' => time.Day.ToString(c).PadLeft(2),
                'H' => time.Hour.ToString("00", c),
                'I' => ((time.Hour + 11) % 12 + 1).ToString("00", c),
                'M' => time.Minute.ToString("00", c),
                'S' => time.Second.ToString("00", c),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", c),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => time.ToString("MMM", c),
                'B' => time.ToString("MMMM", c),
                'a' => time.ToString("ddd", c),
                'A' => time.ToString("dddd", c),
                'j' => time.DayOfYear.ToString("000", c),
                'w' => ((int)time.DayOfWeek).ToString(c),
                'u' => (time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek).ToString(c),
                'Z' => "",
                'z' => (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.Duration().ToString("hhmm", c),
                'F' => time.ToString("yyyy-MM-dd", c),
                'T' => time.ToString("HH:mm:ss", c),
                'D' => time.ToString("MM/dd/yy", c),
                '%' => "%",
                _ => "%" + d,
            });
        }
        return text.ToString();
    }
}
