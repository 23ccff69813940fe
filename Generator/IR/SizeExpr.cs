using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Tessera.Generator.IR;

/// <summary>
/// A size or scalar as an expression over config fields ("Heads * HeadDim", "Sliding[Layer] ? Window : 0",
/// "1 / Sqrt(QueryScalar)"): symbolic in the shape-generic engine, a number once a config binds the names. Printed as
/// C# so generated code can use it verbatim. The grammar is C#'s for what a size or an op's scalar argument needs:
/// literals, names, + - * / %, comparisons, &amp;&amp; || !, ?:, Sqrt(x), a per-layer field indexed by the layer
/// (<c>Sliding[Layer]</c>; <c>Layer</c> is the index of the layer a block runs as, the generated code's <c>layer</c>),
/// <c>null</c> and members of the runtime's types (<c>RopeScaling.None</c>).
/// </summary>
internal abstract record SizeExpr
{
    /// <summary>The index of the layer a block runs as (Tessera.Ops.Layer), as written in a model.</summary>
    public const string LayerName = "Layer";

    public static SizeExpr Constant(double value) => new Number(value);

    public static SizeExpr Named(string name) => new Name(name);

    /// <summary>left / right, simplified where a factor cancels ((Heads * HeadDim) / Heads = HeadDim), so generated code stays readable.</summary>
    public static SizeExpr Divide(SizeExpr left, SizeExpr right)
    {
        if (right is Number { Value: 1 }) return left;
        if (left.ToString() == right.ToString()) return new Number(1);
        if (left is Binary { Operator: '*' } product)
        {
            if (product.Left.ToString() == right.ToString()) return product.Right;
            if (product.Right.ToString() == right.ToString()) return product.Left;
        }
        return new Binary('/', left, right);
    }

    public static SizeExpr Multiply(SizeExpr left, SizeExpr right) => new Binary('*', left, right);

    /// <summary>ceil(left / right) in integer arithmetic: (left + right - 1) / right.</summary>
    public static SizeExpr CeilDivide(SizeExpr left, SizeExpr right) =>
        right is Number { Value: 1 } ? left : new Binary('/', new Binary('-', new Binary('+', left, right), new Number(1)), right);

    /// <summary>The value with every name bound (booleans as 1 and 0), or null if a name is unbound or not a number.</summary>
    /// <param name="lookup">a name's value; a per-layer field's element is looked up as "Name[i]", the layer as <see cref="LayerName"/></param>
    /// <param name="isFloat">whether a name is a float (its quotients are not truncated); none by default</param>
    public double? Evaluate(Func<string, double?> lookup, Func<string, bool>? isFloat = null) =>
        Eval(lookup, isFloat ?? (_ => false))?.Value;

    /// <summary>A value and whether C# would compute it as a floating-point number (so '/' does not truncate).</summary>
    protected internal readonly record struct Typed(double Value, bool IsFloat);

    protected internal abstract Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat);

    public IEnumerable<string> Names()
    {
        var names = new List<string>();
        Collect(names);
        return names;
    }

    /// <summary>Whether the value can differ from layer to layer: it names the layer or a per-layer field.</summary>
    public bool IsPerLayer => Names().Contains(LayerName) || this.Any(e => e is Index);

    /// <summary>This expression and every one inside it.</summary>
    public IEnumerable<SizeExpr> Descendants()
    {
        yield return this;
        foreach (var child in Children())
            foreach (var e in child.Descendants()) yield return e;
    }

    private bool Any(Func<SizeExpr, bool> predicate) => Descendants().Any(predicate);

    protected abstract IEnumerable<SizeExpr> Children();

    protected abstract void Collect(List<string> names);

    /// <summary>C# precedence: 0 ?:, 1 ||, 2 &amp;&amp;, 3 equality, 4 relational, 5 additive, 6 multiplicative, 7 unary and atoms.</summary>
    protected abstract int Precedence { get; }

    private static string Wrap(SizeExpr e, int precedence) => e.Precedence < precedence ? "(" + e + ")" : e.ToString();

    public sealed record Number(double Value) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) => new Typed(Value, Value != Math.Floor(Value));

        protected override IEnumerable<SizeExpr> Children() => [];

        protected override void Collect(List<string> names) { }

        protected override int Precedence => 7;

        // A fraction is a float literal (0.5f): the ops' scalar arguments are floats, and C# does not narrow a double.
        public override string ToString() => Value.ToString("R", CultureInfo.InvariantCulture) + (Value == Math.Floor(Value) ? "" : "f");
    }

    /// <summary>
    /// A config field, <see cref="LayerName"/> (printed as the generated code's <c>layer</c>), <c>true</c>, <c>false</c>,
    /// <c>null</c>, or a member of a runtime type ("RopeScaling.None", printed fully qualified).
    /// </summary>
    public sealed record Name(string Value) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) => Value switch
        {
            "true" => new Typed(1, false),
            "false" => new Typed(0, false),
            _ => lookup(Value) is { } v ? new Typed(v, isFloat(Value)) : null,
        };

        protected override IEnumerable<SizeExpr> Children() => [];

        protected override void Collect(List<string> names)
        {
            if (Value is not ("true" or "false" or "null") && !IsMember) names.Add(Value);
        }

        /// <summary>A member of a runtime type (RopeScaling.None), not a config field.</summary>
        public bool IsMember => Value.IndexOf('.') > 0;

        protected override int Precedence => 7;

        public override string ToString() => Value == LayerName ? "layer" : IsMember ? "global::Tessera." + Value : Value;
    }

    /// <summary>Arithmetic: + - * / %, on ints as C# does (a quotient of ints truncates).</summary>
    public sealed record Binary(char Operator, SizeExpr Left, SizeExpr Right) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat)
        {
            var l = Left.Eval(lookup, isFloat);
            var r = Right.Eval(lookup, isFloat);
            if (l is not { } a || r is not { } b) return null;
            bool isFloating = a.IsFloat || b.IsFloat;
            double? value = Operator switch
            {
                '+' => a.Value + b.Value,
                '-' => a.Value - b.Value,
                '*' => a.Value * b.Value,
                '%' => b.Value == 0 ? null : a.Value % b.Value,
                // Sizes are integers: '/' on two integers truncates, as it does in the generated C#.
                _ => b.Value == 0 ? null : isFloating ? a.Value / b.Value : Math.Truncate(a.Value / b.Value),
            };
            return value is { } v ? new Typed(v, isFloating) : null;
        }

        protected override IEnumerable<SizeExpr> Children() => [Left, Right];

        protected override void Collect(List<string> names)
        {
            Left.Collect(names);
            Right.Collect(names);
        }

        protected override int Precedence => Operator is '+' or '-' ? 5 : 6;

        public override string ToString()
        {
            string left = Wrap(Left, Precedence);
            // Right operands of - / % (and of * when a division sits there) keep their parentheses.
            bool wrapRight = Right.Precedence < Precedence || (Right.Precedence == Precedence && Operator is '-' or '/' or '%');
            string right = wrapRight ? "(" + Right + ")" : Right.ToString();
            return left + " " + Operator + " " + right;
        }
    }

    /// <summary>A comparison or logical operator (== != &lt; &lt;= &gt; &gt;= &amp;&amp; ||): true is 1, false 0.</summary>
    public sealed record Logic(string Operator, SizeExpr Left, SizeExpr Right) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat)
        {
            var l = Left.Eval(lookup, isFloat);
            var r = Right.Eval(lookup, isFloat);
            if (l is not { } a || r is not { } b) return null;
            bool result = Operator switch
            {
                "==" => a.Value == b.Value,
                "!=" => a.Value != b.Value,
                "<" => a.Value < b.Value,
                "<=" => a.Value <= b.Value,
                ">" => a.Value > b.Value,
                ">=" => a.Value >= b.Value,
                "&&" => a.Value != 0 && b.Value != 0,
                _ => a.Value != 0 || b.Value != 0,
            };
            return new Typed(result ? 1 : 0, false);
        }

        protected override IEnumerable<SizeExpr> Children() => [Left, Right];

        protected override void Collect(List<string> names)
        {
            Left.Collect(names);
            Right.Collect(names);
        }

        protected override int Precedence => Operator switch
        {
            "||" => 1,
            "&&" => 2,
            "==" or "!=" => 3,
            _ => 4,
        };

        // Operands of equal precedence are wrapped too: (a == b) == c reads no better unwrapped, and a < b < c is not C#.
        public override string ToString() => Wrap(Left, Precedence + (Precedence >= 3 ? 1 : 0)) + " " + Operator + " " + Wrap(Right, Precedence + 1);
    }

    /// <summary>!x.</summary>
    public sealed record Not(SizeExpr Operand) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) =>
            Operand.Eval(lookup, isFloat) is { } v ? new Typed(v.Value == 0 ? 1 : 0, false) : null;

        protected override IEnumerable<SizeExpr> Children() => [Operand];

        protected override void Collect(List<string> names) => Operand.Collect(names);

        protected override int Precedence => 7;

        public override string ToString() => "!" + Wrap(Operand, 7);
    }

    /// <summary>condition ? whenTrue : whenFalse.</summary>
    public sealed record Conditional(SizeExpr Condition, SizeExpr WhenTrue, SizeExpr WhenFalse) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) =>
            Condition.Eval(lookup, isFloat) is { } c ? (c.Value != 0 ? WhenTrue : WhenFalse).Eval(lookup, isFloat) : null;

        protected override IEnumerable<SizeExpr> Children() => [Condition, WhenTrue, WhenFalse];

        protected override void Collect(List<string> names)
        {
            Condition.Collect(names);
            WhenTrue.Collect(names);
            WhenFalse.Collect(names);
        }

        protected override int Precedence => 0;

        public override string ToString() => Wrap(Condition, 1) + " ? " + Wrap(WhenTrue, 1) + " : " + WhenFalse;
    }

    /// <summary>A function of one argument: Sqrt (MathF.Sqrt, a float).</summary>
    public sealed record Call(string Function, SizeExpr Argument) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) =>
            Argument.Eval(lookup, isFloat) is { } v ? new Typed(Math.Sqrt(v.Value), true) : null;

        protected override IEnumerable<SizeExpr> Children() => [Argument];

        protected override void Collect(List<string> names) => Argument.Collect(names);

        protected override int Precedence => 7;

        public override string ToString() => $"global::System.MathF.{Function}({Argument})";
    }

    /// <summary>A per-layer field's value at a layer: Name[Layer].</summary>
    public sealed record Index(string Array, SizeExpr Position) : SizeExpr
    {
        protected internal override Typed? Eval(Func<string, double?> lookup, Func<string, bool> isFloat) =>
            Position.Eval(lookup, isFloat) is { } i && lookup(Array + "[" + ((int)i.Value).ToString(CultureInfo.InvariantCulture) + "]") is { } v
                ? new Typed(v, isFloat(Array))
                : null;

        protected override IEnumerable<SizeExpr> Children() => [Position];

        protected override void Collect(List<string> names)
        {
            names.Add(Array);
            Position.Collect(names);
        }

        protected override int Precedence => 7;

        public override string ToString() => Array + "[" + Position + "]";
    }

    /// <summary>The functions a size expression may call.</summary>
    public static readonly string[] Functions = ["Sqrt"];

    /// <summary>Parses literals, names, + - * / %, comparisons, &amp;&amp; || !, ?:, Sqrt(x), Name[x] and parentheses.</summary>
    public static bool TryParse(string text, out SizeExpr? expression, out string? error)
    {
        var parser = new Parser(text);
        try
        {
            expression = parser.ParseConditional();
            parser.SkipSpaces();
            if (!parser.AtEnd) throw new FormatException($"unexpected '{parser.Current}'");
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            expression = null;
            error = e.Message;
            return false;
        }
    }

    public static SizeExpr Parse(string text) =>
        TryParse(text, out var e, out var error) ? e! : throw new FormatException($"cannot read size expression \"{text}\": {error}");

    private sealed class Parser(string text)
    {
        private int _position;

        public bool AtEnd => _position >= text.Length;

        public char Current => text[_position];

        public void SkipSpaces()
        {
            while (!AtEnd && char.IsWhiteSpace(Current)) _position++;
        }

        /// <summary>Consumes <paramref name="token"/> if it comes next (not as the start of a longer operator).</summary>
        private bool Take(string token)
        {
            SkipSpaces();
            if (string.CompareOrdinal(text, _position, token, 0, token.Length) != 0) return false;
            int after = _position + token.Length;
            // "<" is not "<=", "!" is not "!=", "=" alone is no operator here.
            if (token is "<" or ">" or "!" && after < text.Length && text[after] == '=') return false;
            if (token is "&" or "|" && after < text.Length && text[after] == token[0]) return false;
            _position = after;
            return true;
        }

        public SizeExpr ParseConditional()
        {
            var condition = ParseLogic(1);
            if (!Take("?")) return condition;
            var whenTrue = ParseConditional();
            if (!Take(":")) throw new FormatException("missing ':' of '?:'");
            return new Conditional(condition, whenTrue, ParseConditional());
        }

        private static readonly string[][] Levels =
        [
            [],
            ["||"],
            ["&&"],
            ["==", "!="],
            ["<=", ">=", "<", ">"],
        ];

        private SizeExpr ParseLogic(int level)
        {
            if (level == Levels.Length) return ParseSum();
            var left = ParseLogic(level + 1);
            while (true)
            {
                string? op = Levels[level].FirstOrDefault(Take);
                if (op is null) return left;
                left = new Logic(op, left, ParseLogic(level + 1));
            }
        }

        private SizeExpr ParseSum()
        {
            var left = ParseProduct();
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '+' && Current != '-')) return left;
                char op = Current;
                _position++;
                left = new Binary(op, left, ParseProduct());
            }
        }

        private SizeExpr ParseProduct()
        {
            var left = ParseUnary();
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '*' && Current != '/' && Current != '%')) return left;
                char op = Current;
                _position++;
                left = new Binary(op, left, ParseUnary());
            }
        }

        private SizeExpr ParseUnary() => Take("!") ? new Not(ParseUnary()) : ParseAtom();

        private SizeExpr ParseAtom()
        {
            SkipSpaces();
            if (AtEnd) throw new FormatException("unexpected end");
            if (Current == '(')
            {
                _position++;
                var inner = ParseConditional();
                if (!Take(")")) throw new FormatException("missing ')'");
                return inner;
            }
            int start = _position;
            if (char.IsDigit(Current) || Current == '.' || Current == '-')
            {
                _position++;
                while (!AtEnd && (char.IsDigit(Current) || Current is '.' or 'e' or 'E' or '+' or '-') && !(Current is '+' or '-' && text[_position - 1] is not ('e' or 'E'))) _position++;
                if (!AtEnd && (Current is 'f' or 'F')) _position++;
                string literal = text.Substring(start, _position - start).TrimEnd('f', 'F');
                if (!double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                    throw new FormatException($"'{literal}' is not a number");
                return new Number(value);
            }
            if (char.IsLetter(Current) || Current == '_')
            {
                while (!AtEnd && (char.IsLetterOrDigit(Current) || Current is '_' or '.')) _position++;
                string name = text.Substring(start, _position - start);
                if (Take("("))
                {
                    if (!Functions.Contains(name)) throw new FormatException($"'{name}' is not a function a size may call ({string.Join(", ", Functions)})");
                    var argument = ParseConditional();
                    if (!Take(")")) throw new FormatException("missing ')'");
                    return new Call(name, argument);
                }
                if (Take("["))
                {
                    var position = ParseConditional();
                    if (!Take("]")) throw new FormatException("missing ']'");
                    return new Index(name, position);
                }
                return new Name(name);
            }
            throw new FormatException($"unexpected '{Current}'");
        }
    }
}
