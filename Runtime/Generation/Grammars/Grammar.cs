using System.Text;

namespace Tessera.Generation.Grammars;

/// <summary>
/// A context-free grammar over bytes: named rules (<see cref="GrammarExpression"/> bodies) and the rule whose sentences
/// are the language. Checked and compiled when made (every reference defined, no left recursion), so an unusable
/// grammar fails at request time, not at the first token. Immutable; one grammar serves any number of sequences.
/// </summary>
public sealed class Grammar
{
    /// <param name="rules">The rules, each name once (the order is only for <see cref="ToString"/>).</param>
    /// <param name="root">The name of the rule whose sentences are the language.</param>
    public Grammar(IReadOnlyList<(string Name, GrammarExpression Body)> rules, string root)
    {
        Rules = rules;
        Root = root;
        Compiled = new CompiledGrammar(rules, root);
    }

    public IReadOnlyList<(string Name, GrammarExpression Body)> Rules { get; }

    public string Root { get; }

    internal CompiledGrammar Compiled { get; }

    /// <summary>Whether <paramref name="bytes"/> is a whole sentence of the grammar.</summary>
    public bool Accepts(ReadOnlySpan<byte> bytes) => Walk(bytes) is var (automaton, state) && automaton.IsAccepting(state);

    /// <summary>Whether <paramref name="bytes"/> can be continued into a sentence (the empty string always can, a sentence is one).</summary>
    public bool IsPrefix(ReadOnlySpan<byte> bytes) => Walk(bytes) is not null;

    public bool Accepts(string text) => Accepts(Encoding.UTF8.GetBytes(text));

    public bool IsPrefix(string text) => IsPrefix(Encoding.UTF8.GetBytes(text));

    private (ParseAutomaton, int)? Walk(ReadOnlySpan<byte> bytes)
    {
        var automaton = new ParseAutomaton(Compiled);
        int state = automaton.Start;
        foreach (byte b in bytes)
            if ((state = automaton.Step(state, b)) == ParseAutomaton.Dead) return null;
        return (automaton, state);
    }

    /// <summary>The rules in GBNF-like notation, root first.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var (name, body) in Rules) text.Append(name).Append(" ::= ").Append(body).Append('\n');
        return text.ToString();
    }
}
