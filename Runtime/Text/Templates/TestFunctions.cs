namespace Tessera.Text.Templates;

/// <summary>Jinja2's tests, <c>value is name(args)</c>, with Python's type rules (a bool is a number but not an integer).</summary>
internal static class TestFunctions
{
    /// <summary>Every test this interpreter knows: a template naming another fails when parsed, as Jinja2 fails when it compiles.</summary>
    public static readonly IReadOnlySet<string> Names = new HashSet<string>(StringComparer.Ordinal)
    {
        "defined", "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping", "iterable", "sequence",
        "callable", "equalto", "eq", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas",
        "odd", "even", "divisibleby", "lower", "upper", "escaped",
    };

    public static bool Apply(Evaluator evaluator, string name, object? value, Arguments a, int line)
    {
        object? Other() => a.Positional.Count > 0 ? a.Positional[0] : throw new TemplateException($"the test '{name}' needs a value to compare with", line);
        try
        {
            return name switch
            {
                "defined" => value is not Undefined,
                "undefined" => value is Undefined,
                "none" => value is null,
                "string" => value is string,
                "number" => value is long or double or bool,
                "integer" => value is long,
                "float" => value is double,
                "boolean" => value is bool,
                "true" => value is true,
                "false" => value is false,
                "mapping" => value is PyDict,
                "iterable" => value is string or List<object?> or object?[] or PyDict or Undefined,
                "sequence" => value is string or List<object?> or object?[] or PyDict,
                "callable" => value is ICallable,
                "equalto" or "eq" or "==" => Py.AreEqual(value, Other()),
                "ne" or "!=" => !Py.AreEqual(value, Other()),
                "lt" or "lessthan" or "<" => Py.Compare(value, Other(), "<") < 0,
                "le" or "<=" => Py.Compare(value, Other(), "<=") <= 0,
                "gt" or "greaterthan" or ">" => Py.Compare(value, Other(), ">") > 0,
                "ge" or ">=" => Py.Compare(value, Other(), ">=") >= 0,
                "in" => Py.Contains(Other(), value),
                "sameas" => ReferenceEquals(value, Other()) || (value is null or bool && Py.AreEqual(value, Other()) && Other()?.GetType() == value?.GetType()),
                "odd" => value is long l && l % 2 != 0,
                "even" => value is long e && e % 2 == 0,
                "divisibleby" => value is long v && Other() is long d && d != 0 && v % d == 0,
                "lower" => Py.Str(value) is var s && s == s.ToLowerInvariant(),
                "upper" => Py.Str(value) is var u && u == u.ToUpperInvariant(),
                "escaped" => false,
                _ => throw new TemplateException($"unknown test '{name}'", line),
            };
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, line, raisedByTemplate: e.RaisedByTemplate);
        }
    }
}
