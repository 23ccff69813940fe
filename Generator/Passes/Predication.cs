using System;
using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// When a node runs: always, or under conditions — an OR of ANDs of Select conditions, each taken as it is or negated
/// (<c>Sparse[Layer]</c>, <c>!(Sparse[Layer])</c>). Kept simplified, so a value both sides of a Select read runs always
/// and two nodes under the same conditions compare equal.
/// </summary>
internal sealed class Predicate : IEquatable<Predicate>
{
    /// <summary>One condition of a clause: a Select's condition and whether it must hold or not; equal by its C# text.</summary>
    private readonly record struct Literal(SizeExpr Expression, bool Holds) : IComparable<Literal>
    {
        /// <summary>The condition as C#: what literals compare and sort by.</summary>
        public string Condition => Expression.ToString();

        public int CompareTo(Literal other)
        {
            int c = string.CompareOrdinal(Condition, other.Condition);
            return c != 0 ? c : Holds.CompareTo(other.Holds);
        }

        public bool Equals(Literal other) => Holds == other.Holds && Condition == other.Condition;

        public override int GetHashCode() => Condition.GetHashCode() ^ (Holds ? 1 : 0);

        public Literal Negated => this with { Holds = !Holds };
    }

    /// <summary>The clauses (each its literals, sorted); no clause: never; a clause without literals: always.</summary>
    private readonly List<Literal[]> _clauses;

    private Predicate(IEnumerable<Literal[]> clauses) => _clauses = Simplify(clauses);

    public static Predicate Always { get; } = new([[]]);

    public static Predicate Never { get; } = new([]);

    public bool IsAlways => _clauses.Any(c => c.Length == 0);

    /// <summary>This predicate with <paramref name="condition"/> holding (or, <paramref name="holds"/> false, not holding) too.</summary>
    public Predicate And(SizeExpr condition, bool holds)
    {
        var literal = new Literal(condition, holds);
        return new Predicate(_clauses.Select(c => c.Append(literal).ToArray()));
    }

    public Predicate Or(Predicate other) => new(_clauses.Concat(other._clauses));

    /// <summary>Whether the node runs for these values (a per-layer field's element looked up as "Name[i]"); null if a name is unbound.</summary>
    public bool? Holds(Func<string, double?> lookup)
    {
        bool any = false;
        foreach (var clause in _clauses)
        {
            bool all = true;
            foreach (var literal in clause)
            {
                if (literal.Expression.Evaluate(lookup) is not { } value) return null;
                all &= (value != 0) == literal.Holds;
            }
            any |= all;
        }
        return any;
    }

    /// <summary>The C# condition under which the node runs, or null when it always runs.</summary>
    public string? ToCSharp()
    {
        if (IsAlways) return null;
        if (_clauses.Count == 0) return "false";
        string Literal(Literal l) => l.Holds ? Wrap(l.Condition) : "!" + Parenthesised(l.Expression);
        string Clause(Literal[] c) => string.Join(" && ", c.Select(Literal));
        return _clauses.Count == 1 ? Clause(_clauses[0]) : string.Join(" || ", _clauses.Select(c => c.Length == 1 ? Clause(c) : "(" + Clause(c) + ")"));
    }

    /// <summary>A condition as an operand of &amp;&amp;: parenthesised when it has an operator that binds less tightly.</summary>
    private static string Wrap(string condition) => condition.Contains("||") || condition.Contains("?") ? "(" + condition + ")" : condition;

    private static string Parenthesised(SizeExpr condition) =>
        condition is SizeExpr.Name or SizeExpr.Index or SizeExpr.Call or SizeExpr.Not ? condition.ToString() : "(" + condition + ")";

    /// <summary>
    /// Clauses without contradictions (x and !x) or repeated literals, none implied by another (a clause that holds
    /// whenever a smaller one does), and pairs differing in one literal's sign merged ((a, x) or (a, !x) is a).
    /// </summary>
    private static List<Literal[]> Simplify(IEnumerable<Literal[]> clauses)
    {
        var set = clauses.Select(c => c.Distinct().OrderBy(l => l).ToArray())
            .Where(c => !c.Any(l => c.Contains(l.Negated)))
            .ToList();
        bool changed = true;
        while (changed)
        {
            changed = false;
            for (int i = 0; i < set.Count && !changed; i++)
                for (int j = 0; j < set.Count && !changed; j++)
                {
                    if (i == j) continue;
                    if (set[i].All(set[j].Contains))
                    {
                        // set[j] holds whenever set[i] does, so it adds nothing (equal clauses: one goes).
                        set.RemoveAt(j);
                        changed = true;
                    }
                    else if (set[i].Length == set[j].Length && set[i].Count(l => !set[j].Contains(l)) == 1)
                    {
                        var differing = set[i].First(l => !set[j].Contains(l));
                        if (!set[j].Contains(differing.Negated)) continue;
                        var merged = set[i].Where(l => l != differing).ToArray();
                        set[i] = merged;
                        set.RemoveAt(j);
                        changed = true;
                    }
                }
        }
        return set.OrderBy(c => string.Join(",", c.Select(l => (l.Holds ? "" : "!") + l.Condition)), StringComparer.Ordinal).ToList();
    }

    public bool Equals(Predicate? other) =>
        other is not null && _clauses.Count == other._clauses.Count && _clauses.Zip(other._clauses, (a, b) => a.SequenceEqual(b)).All(x => x);

    public override bool Equals(object? obj) => Equals(obj as Predicate);

    public override int GetHashCode() => _clauses.Count;

    public override string ToString() => ToCSharp() ?? "always";
}

/// <summary>
/// Decides when each node of a graph runs. A Select computes only the side its condition picks, so what only one side
/// reads runs only under that side's condition; a node runs when any of its readers needs it. Kernels, weights and
/// experts then follow their nodes: a layer kind's kernels run in an <c>if</c>, and its weights load only in the layers
/// that use them (Qwen-MoE's dense layers among sparse ones).
/// </summary>
internal static class Predication
{
    public static void Run(IrGraph graph)
    {
        for (int i = graph.Nodes.Count - 1; i >= 0; i--)
        {
            var node = graph.Nodes[i];
            if (node.Output == graph.Result || node.Kind is OpKind.Tokens or OpKind.Input)
            {
                node.Predicate = Predicate.Always;
                continue;
            }
            var needed = Predicate.Never;
            foreach (var reader in node.Output.Consumers.Distinct())
            {
                var when = reader.Predicate;
                if (reader.Kind == OpKind.Select && reader.Inputs[0] != reader.Inputs[1])
                    when = when.And(reader.Arguments[0], holds: reader.Inputs[0] == node.Output);
                needed = needed.Or(when);
            }
            node.Predicate = needed;
        }
    }
}
