using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Generation.Grammars;

/// <summary>
/// JSON (RFC 8259) as grammar rules, in one compact layout so that a model cannot pad forever: no whitespace anywhere
/// except at most one space after each ':' and ',' (<c>{"a": 1, "b": [true, null]}</c>). Numbers are bounded too: up to
/// 16 integer digits, 16 fraction digits and 3 exponent digits. Strings take any valid UTF-8 except unescaped '"',
/// '\' and control characters, and the escapes \" \\ \/ \b \f \n \r \t \uXXXX. Each rule is added to a
/// <see cref="GrammarBuilder"/> once, under a fixed name, and shared by everything that builder holds.
/// </summary>
public static class JsonGrammar
{
    /// <summary>The grammar of one JSON object (OpenAI's json_object response format).</summary>
    public static Grammar AnyObject()
    {
        var rules = new GrammarBuilder();
        return rules.Build(Object(rules));
    }

    /// <summary>The grammar of one JSON value of any type.</summary>
    public static Grammar AnyValue()
    {
        var rules = new GrammarBuilder();
        return rules.Build(Value(rules));
    }

    /// <summary>The separator after ':' and ',': nothing or one space.</summary>
    public static GrammarExpression Space { get; } = Optional(Exactly(" "));

    /// <summary>Any JSON value.</summary>
    public static GrammarExpression Value(GrammarBuilder rules) => Shared(rules, "json-value", () =>
        Either(Object(rules), Array(rules), String(rules), Number(rules), Exactly("true"), Exactly("false"), Exactly("null")));

    /// <summary>Any JSON object.</summary>
    public static GrammarExpression Object(GrammarBuilder rules) => Shared(rules, "json-object", () =>
    {
        var member = Seq(String(rules), Exactly(":"), Space, Value(rules));
        return Seq(Exactly("{"), Optional(Seq(member, ZeroOrMore(Seq(Exactly(","), Space, member)))), Exactly("}"));
    });

    /// <summary>Any JSON array.</summary>
    public static GrammarExpression Array(GrammarBuilder rules) => Shared(rules, "json-array", () => ArrayOf(Value(rules), 0, null));

    /// <summary>A JSON array of <paramref name="item"/>, with between <paramref name="min"/> and <paramref name="max"/> items.</summary>
    public static GrammarExpression ArrayOf(GrammarExpression item, int min, int? max)
    {
        if (max == 0) return Exactly("[]");
        var more = Times(Seq(Exactly(","), Space, item), Math.Max(min - 1, 0), max - 1);
        var items = Seq(item, more);
        return Seq(Exactly("["), min == 0 ? Optional(items) : items, Exactly("]"));
    }

    /// <summary>Any JSON string.</summary>
    public static GrammarExpression String(GrammarBuilder rules) => Shared(rules, "json-string", () =>
    {
        var hex = OneOf(ByteSet.Range((byte)'0', (byte)'9').Union(ByteSet.Range((byte)'a', (byte)'f')).Union(ByteSet.Range((byte)'A', (byte)'F')));
        var escape = Seq(Exactly("\\"), Either(OneOf(ByteSet.Of("\"\\/bfnrt")), Seq(Exactly("u"), hex, hex, hex, hex)));
        var plain = Utf8.AnyCharExcept(ByteSet.Range(0, 0x1F).Union(ByteSet.Of("\"\\")));
        return Seq(Exactly("\""), ZeroOrMore(Either(plain, escape)), Exactly("\""));
    });

    /// <summary>A JSON number (bounded digits, see the class remarks).</summary>
    public static GrammarExpression Number(GrammarBuilder rules) => Shared(rules, "json-number", () =>
    {
        var digit = OneOf(ByteSet.Range((byte)'0', (byte)'9'));
        var fraction = Seq(Exactly("."), Times(digit, 1, 16));
        var exponent = Seq(OneOf(ByteSet.Of("eE")), Optional(OneOf(ByteSet.Of("+-"))), Times(digit, 1, 3));
        return Seq(Integer(rules), Optional(fraction), Optional(exponent));
    });

    /// <summary>A JSON integer: -?(0|[1-9][0-9]{0,15}).</summary>
    public static GrammarExpression Integer(GrammarBuilder rules) => Shared(rules, "json-integer", () =>
    {
        var digit = OneOf(ByteSet.Range((byte)'0', (byte)'9'));
        return Seq(Optional(Exactly("-")), Either(Exactly("0"), Seq(OneOf(ByteSet.Range((byte)'1', (byte)'9')), Times(digit, 0, 15))));
    });

    /// <summary>The rule <paramref name="name"/>, defined by <paramref name="body"/> the first time this builder asks for it.</summary>
    private static GrammarExpression Shared(GrammarBuilder rules, string name, Func<GrammarExpression> body)
    {
        if (rules.Contains(name)) return Rule(name);
        var reference = rules.Declare(name);
        rules.Define(name, body());
        return reference;
    }
}
