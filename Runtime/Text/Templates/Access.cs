namespace Tessera.Text.Templates;

/// <summary>
/// <c>obj.name</c>, <c>obj[key]</c> and <c>obj[a:b:c]</c> as Jinja2 resolves them: an attribute (for a str or dict, its
/// methods) before an item for <c>.name</c>, the item first for <c>[key]</c>; a missing one is undefined, and looking
/// inside an undefined is an error.
/// </summary>
internal static class Access
{
    public static object? Attribute(object? target, string name, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw u.Fail(line, $"looking up '.{name}'");
            case PyDict dict:
                if (Methods.Bind(dict, name) is { } dictMethod) return dictMethod;
                return dict.TryGetValue(name, out var value) ? value : new Undefined($"'dict object' has no attribute '{name}'");
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : new Undefined($"'Namespace' has no attribute '{name}'");
            case LoopInfo loop:
                return loop.Get(name);
            default:
                return (object?)Methods.Bind(target, name) ?? new Undefined($"'{Py.TypeName(target)} object' has no attribute '{name}'");
        }
    }

    public static object? Item(object? target, object? key, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw u.Fail(line, $"looking up [{Py.Repr(key)}]");
            case PyDict dict:
                if (key is not null && key is not Undefined && dict.TryGetValue(key, out var value)) return value;
                if (key is string name && Methods.Bind(dict, name) is { } method) return method;
                return new Undefined($"'dict object' has no attribute {Py.Repr(key)}");
            case List<object?> or object?[] or string when key is long or bool:
                var items = target is string s ? Py.CodePoints(s) : (IReadOnlyList<object?>)target;
                long index = key is bool b ? (b ? 1 : 0) : (long)key!;
                if (index < 0) index += items.Count;
                return index >= 0 && index < items.Count ? items[(int)index] : new Undefined($"{Py.TypeName(target)} index {key} is out of range");
            case Namespace or LoopInfo when key is string attribute:
                return Attribute(target, attribute, line);
            default:
                return key is string text ? (object?)Methods.Bind(target, text) ?? new Undefined($"'{Py.TypeName(target)} object' has no attribute '{text}'")
                    : new Undefined($"'{Py.TypeName(target)} object' has no item {Py.Repr(key)}");
        }
    }

    /// <summary>Python's slice of a list, tuple or string.</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        if (target is Undefined u) throw u.Fail(line, "sliced");
        long? Bound(object? value, string what) => value switch
        {
            null => null,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw new TemplateException($"slice {what} must be an integer or None, not {Py.TypeName(value)}", line),
        };
        IReadOnlyList<object?> items = target switch
        {
            string s => Py.CodePoints(s),
            List<object?> list => list,
            object?[] tuple => tuple,
            _ => throw new TemplateException($"'{Py.TypeName(target)}' object is not subscriptable", line),
        };
        long n = items.Count;
        long by = Bound(step, "step") ?? 1;
        if (by == 0) throw new TemplateException("slice step cannot be zero", line);
        long Clamp(long? value, long fallback)
        {
            if (value is not long v) return fallback;
            if (v < 0) v += n;
            return by > 0 ? Math.Clamp(v, 0, n) : Math.Clamp(v, -1, n - 1);
        }
        long from = Clamp(Bound(start, "start"), by > 0 ? 0 : n - 1), to = Clamp(Bound(stop, "stop"), by > 0 ? n : -1);
        var result = new List<object?>();
        for (long i = from; by > 0 ? i < to : i > to; i += by) result.Add(items[(int)i]);
        return target switch
        {
            string => string.Concat(result.Cast<string>()),
            object?[] => result.ToArray(),
            _ => result,
        };
    }
}
