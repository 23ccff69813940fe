namespace Tessera.Text.Templates;

/// <summary>
/// Variables visible at one point of a render. As in Jinja2, a for loop's body and a macro's body get their own scope
/// (a <c>set</c> inside does not change the variable outside: templates use <c>namespace()</c> for that); if blocks
/// share their enclosing scope.
/// </summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
            if (scope._variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public void Set(string name, object? value) => _variables[name] = value;

    public Scope? Parent { get; } = parent;
}
