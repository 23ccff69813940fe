namespace Tessera.Generation.Grammars;

/// <summary>
/// Collects the named rules of a <see cref="Grammar"/> as front ends emit them (JSON, a schema, a tool call), so that
/// several can share one grammar: each front end adds its rules under fresh names and returns the expression that
/// matches its language, which the caller composes with literals and alternatives. Rules may refer to rules declared
/// later (recursion); <see cref="Build"/> checks that every reference is defined.
/// </summary>
/// <example>
/// <code>
/// var rules = new GrammarBuilder();
/// var call = GrammarExpression.Seq(GrammarExpression.Exactly("&lt;tool_call&gt;\n"), JsonSchemaGrammar.Add(rules, schema), GrammarExpression.Exactly("\n&lt;/tool_call&gt;"));
/// Grammar grammar = rules.Build(call);
/// </code>
/// </example>
public sealed class GrammarBuilder
{
    private readonly List<string> _order = [];
    private readonly Dictionary<string, GrammarExpression?> _rules = [];

    /// <summary>Whether a rule of this name is declared (defined or not yet).</summary>
    public bool Contains(string name) => _rules.ContainsKey(name);

    /// <summary>A name not used yet: <paramref name="hint"/> itself, else hint-2, hint-3, ...</summary>
    public string FreshName(string hint)
    {
        string name = hint;
        for (int i = 2; _rules.ContainsKey(name); i++) name = $"{hint}-{i}";
        return name;
    }

    /// <summary>Reserves a rule name to be defined later (a recursive rule refers to itself before its body is known).</summary>
    public GrammarExpression Declare(string name)
    {
        if (!_rules.ContainsKey(name))
        {
            _rules[name] = null;
            _order.Add(name);
        }
        return GrammarExpression.Rule(name);
    }

    /// <summary>Defines a rule (declared before or not) and returns a reference to it.</summary>
    public GrammarExpression Define(string name, GrammarExpression body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (_rules.TryGetValue(name, out var existing) && existing is not null)
            throw new ArgumentException($"grammar rule '{name}' is already defined.", nameof(name));
        Declare(name);
        _rules[name] = body;
        return GrammarExpression.Rule(name);
    }

    /// <summary>The grammar of these rules whose sentences are what <paramref name="root"/> matches.</summary>
    public Grammar Build(GrammarExpression root)
    {
        if (_order.FirstOrDefault(name => _rules[name] is null) is { } undefined)
            throw new ArgumentException($"grammar rule '{undefined}' is declared but never defined.");
        string rootName = FreshName("root");
        var rules = _order.Select(name => (name, _rules[name]!)).Prepend((rootName, root)).ToList();
        return new Grammar(rules, rootName);
    }
}
