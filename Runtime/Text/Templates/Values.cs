namespace Tessera.Text.Templates;

// Template values are Python's, held as: null (None), Undefined, bool, long (int), double (float), string, List<object?>
// (list), object?[] (tuple), PyDict (dict, insertion-ordered), Namespace, LoopInfo and ICallable (macros, globals,
// bound methods).

/// <summary>
/// Jinja2's default Undefined: what a missing variable, attribute or item evaluates to. It is falsy, prints as empty,
/// iterates as empty, and equals only another undefined; anything more (an attribute, an item, a call, arithmetic,
/// JSON) is an error naming what was missing.
/// </summary>
internal sealed class Undefined(string description)
{
    /// <summary>Why it is undefined, as Jinja2 says it: <c>'x' is undefined</c>, <c>'dict object' has no attribute 'y'</c>.</summary>
    public string Description { get; } = description;

    public TemplateException Fail(int line, string? doing = null) => new(doing is null ? Description : $"{Description} ({doing})", line);

    public override string ToString() => "";
}

/// <summary>A dict: insertion-ordered, keys compared as Python compares them (1 == 1.0 == True).</summary>
internal sealed class PyDict : OrderedDictionary<object, object?>
{
    public PyDict() : base(KeyComparer.Instance) { }

    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => Py.AreEqual(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            bool b => b ? 1 : 0,
            long l => l.GetHashCode(),
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e18 => ((long)d).GetHashCode(),
            string s => s.GetHashCode(StringComparison.Ordinal),
            object?[] tuple => tuple.Length,
            _ => obj.GetHashCode(),
        };
    }
}

/// <summary><c>namespace(...)</c>: an object whose attributes <c>{% set ns.x = ... %}</c> may change from inside a loop.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>Something a template can call: a macro, a global function, a method bound to its value.</summary>
internal interface ICallable
{
    object? Call(Evaluator evaluator, Arguments arguments, int line);
}

/// <summary>A built-in function (a global or a bound method).</summary>
internal sealed class Builtin(string name, Func<Arguments, object?> function) : ICallable
{
    public string Name { get; } = name;

    public object? Call(Evaluator evaluator, Arguments arguments, int line) => function(arguments);
}

/// <summary>Evaluated call arguments: positional, then named.</summary>
internal sealed class Arguments(List<object?> positional, Dictionary<string, object?> named, string callee)
{
    public static Arguments Of(string callee, params object?[] positional) => new([.. positional], [], callee);

    public List<object?> Positional { get; } = positional;

    public Dictionary<string, object?> Named { get; } = named;

    public string Callee { get; } = callee;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        if (index >= 0 && index < Positional.Count) return Positional[index];
        return Named.TryGetValue(name, out var value) ? value : fallback;
    }

    public bool Has(int index, string name) => (index >= 0 && index < Positional.Count) || Named.ContainsKey(name);

    public object? Required(int index, string name) =>
        Has(index, name) ? Get(index, name) : throw new TemplateException($"{Callee}() is missing its argument '{name}'");

    /// <summary>Refuses more positional arguments than <paramref name="most"/> or named ones not in <paramref name="names"/>.</summary>
    public Arguments Check(int most, params string[] names)
    {
        if (Positional.Count > most) throw new TemplateException($"{Callee}() takes at most {most} positional argument(s), got {Positional.Count}");
        foreach (var name in Named.Keys)
            if (Array.IndexOf(names, name) < 0) throw new TemplateException($"{Callee}() got an unexpected argument '{name}'");
        return this;
    }
}

/// <summary>The <c>loop</c> variable of a for loop.</summary>
internal sealed class LoopInfo(IReadOnlyList<object?> items)
{
    public int Index0 { get; set; }

    public int Length => items.Count;

    public object? Get(string name) => name switch
    {
        "index" => (long)Index0 + 1,
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Length - 1 ? items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new Builtin("loop.cycle", a => a.Positional.Count == 0 ? throw new TemplateException("loop.cycle() needs at least one value") : a.Positional[Index0 % a.Positional.Count]),
        _ => new Undefined($"'LoopContext' has no attribute '{name}'"),
    };
}
