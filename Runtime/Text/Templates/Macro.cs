namespace Tessera.Text.Templates;

/// <summary>
/// A <c>{% macro %}</c> (or a call block's <c>caller</c>): called, it renders its body in a new scope over the one it
/// was defined in, with its parameters bound by position or name (defaults evaluated at call time), extra positional
/// arguments in <c>varargs</c> and extra named ones in <c>kwargs</c>; it returns the text.
/// </summary>
internal sealed class Macro(string name, IReadOnlyList<Parameter> parameters, IReadOnlyList<Stmt> body, Scope closure) : ICallable
{
    public string Name { get; } = name;

    public object? Call(Evaluator evaluator, Arguments arguments, int line)
    {
        var scope = new Scope(closure);
        var extraNamed = new PyDict();
        foreach (var (key, value) in arguments.Named)
            if (!parameters.Any(p => p.Name == key))
            {
                if (key == "caller") scope.Set("caller", value);
                else extraNamed[key] = value;
            }
        for (int i = 0; i < parameters.Count; i++)
        {
            var parameter = parameters[i];
            if (i < arguments.Positional.Count)
            {
                if (arguments.Named.ContainsKey(parameter.Name)) throw new TemplateException($"macro '{Name}' got multiple values for argument '{parameter.Name}'", line);
                scope.Set(parameter.Name, arguments.Positional[i]);
            }
            else if (arguments.Named.TryGetValue(parameter.Name, out var named)) scope.Set(parameter.Name, named);
            else if (parameter.Default is { } fallback) scope.Set(parameter.Name, evaluator.Evaluate(fallback, scope));
            else scope.Set(parameter.Name, new Undefined($"parameter '{parameter.Name}' was not provided"));
        }
        scope.Set("varargs", arguments.Positional.Skip(parameters.Count).ToList());
        scope.Set("kwargs", extraNamed);
        return evaluator.RenderMacroBody(body, scope, line);
    }
}
