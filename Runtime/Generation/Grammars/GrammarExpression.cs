using System.Collections.Immutable;
using System.Text;

namespace Tessera.Generation.Grammars;

/// <summary>
/// The right-hand side of a <see cref="Grammar"/> rule, over bytes (GBNF's vocabulary): literal bytes, a byte class, a
/// sequence, alternatives, a bounded or unbounded repetition, a reference to a named rule (recursion goes through
/// references). Multi-byte UTF-8 characters are sequences of byte classes (<see cref="Utf8"/>).
/// </summary>
public abstract record GrammarExpression
{
    private GrammarExpression() { }

    /// <summary>Matches exactly these bytes (empty: matches the empty string).</summary>
    /// <param name="Bytes">The bytes, in order.</param>
    public sealed record Literal(ImmutableArray<byte> Bytes) : GrammarExpression
    {
        public override string ToString() => "\"" + Escape(Bytes.AsSpan()) + "\"";
    }

    /// <summary>Matches one byte of the set.</summary>
    /// <param name="Set">The bytes allowed.</param>
    public sealed record Class(ByteSet Set) : GrammarExpression
    {
        public override string ToString() => Set.ToString();
    }

    /// <summary>Matches its items one after the other.</summary>
    /// <param name="Items">The parts, in order (none: the empty string).</param>
    public sealed record Sequence(ImmutableArray<GrammarExpression> Items) : GrammarExpression
    {
        public override string ToString() => Items.IsEmpty ? "\"\"" : "(" + string.Join(" ", Items) + ")";
    }

    /// <summary>Matches any one of its alternatives.</summary>
    /// <param name="Alternatives">The alternatives (at least one).</param>
    public sealed record Choice(ImmutableArray<GrammarExpression> Alternatives) : GrammarExpression
    {
        public override string ToString() => "(" + string.Join(" | ", Alternatives) + ")";
    }

    /// <summary>Matches <paramref name="Item"/> between <paramref name="Min"/> and <paramref name="Max"/> times.</summary>
    /// <param name="Item">What is repeated.</param>
    /// <param name="Min">The fewest repetitions.</param>
    /// <param name="Max">The most repetitions; null: unbounded.</param>
    public sealed record Repeat(GrammarExpression Item, int Min, int? Max) : GrammarExpression
    {
        public override string ToString() => (Min, Max) switch
        {
            (0, null) => $"{Item}*",
            (1, null) => $"{Item}+",
            (0, 1) => $"{Item}?",
            _ => $"{Item}{{{Min},{Max}}}",
        };
    }

    /// <summary>Matches what the named rule of the grammar matches.</summary>
    /// <param name="Name">The rule's name.</param>
    public sealed record Reference(string Name) : GrammarExpression
    {
        public override string ToString() => Name;
    }

    /// <summary>The empty string.</summary>
    public static GrammarExpression Empty { get; } = new Sequence([]);

    /// <summary>The UTF-8 bytes of <paramref name="text"/>.</summary>
    public static GrammarExpression Exactly(string text) => new Literal([.. Encoding.UTF8.GetBytes(text)]);

    public static GrammarExpression OneOf(ByteSet set) => new Class(set);

    public static GrammarExpression Seq(params IEnumerable<GrammarExpression> items) => new Sequence([.. items]);

    public static GrammarExpression Either(params IEnumerable<GrammarExpression> alternatives)
    {
        var all = alternatives.ToImmutableArray();
        if (all.IsEmpty) throw new ArgumentException("a choice needs at least one alternative.", nameof(alternatives));
        return all.Length == 1 ? all[0] : new Choice(all);
    }

    public static GrammarExpression Optional(GrammarExpression item) => new Repeat(item, 0, 1);

    public static GrammarExpression ZeroOrMore(GrammarExpression item) => new Repeat(item, 0, null);

    public static GrammarExpression OneOrMore(GrammarExpression item) => new Repeat(item, 1, null);

    public static GrammarExpression Times(GrammarExpression item, int min, int? max)
    {
        if (min < 0 || max < min) throw new ArgumentOutOfRangeException(nameof(min), $"a repetition needs 0 <= min <= max (got {{{min},{max}}}).");
        return new Repeat(item, min, max);
    }

    public static GrammarExpression Rule(string name) => new Reference(name);

    private static string Escape(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder();
        foreach (byte b in bytes)
            text.Append(b switch
            {
                (byte)'"' => "\\\"",
                (byte)'\\' => "\\\\",
                (byte)'\n' => "\\n",
                >= 0x20 and < 0x7F => ((char)b).ToString(),
                _ => $"\\x{b:X2}",
            });
        return text.ToString();
    }
}
