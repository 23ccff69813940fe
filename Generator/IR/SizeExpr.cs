using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace Tessera.Generator.IR;

/// <summary>
/// A size as an expression over config fields ("Heads * HeadDim"): symbolic in the shape-generic engine, a number once a
/// config binds the names. Printed as C# so generated code can use it verbatim.
/// </summary>
internal abstract record SizeExpr
{
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

    /// <summary>The value with every name bound, or null if a name is unbound.</summary>
    public abstract double? Evaluate(Func<string, double?> lookup);

    public IEnumerable<string> Names()
    {
        var names = new List<string>();
        Collect(names);
        return names;
    }

    protected abstract void Collect(List<string> names);

    protected abstract int Precedence { get; }

    public sealed record Number(double Value) : SizeExpr
    {
        public override double? Evaluate(Func<string, double?> lookup) => Value;

        protected override void Collect(List<string> names) { }

        protected override int Precedence => 3;

        public override string ToString() => Value.ToString("R", CultureInfo.InvariantCulture);
    }

    public sealed record Name(string Value) : SizeExpr
    {
        public override double? Evaluate(Func<string, double?> lookup) => lookup(Value);

        protected override void Collect(List<string> names) => names.Add(Value);

        protected override int Precedence => 3;

        public override string ToString() => Value;
    }

    public sealed record Binary(char Operator, SizeExpr Left, SizeExpr Right) : SizeExpr
    {
        public override double? Evaluate(Func<string, double?> lookup)
        {
            var l = Left.Evaluate(lookup);
            var r = Right.Evaluate(lookup);
            if (l is null || r is null) return null;
            return Operator switch
            {
                '+' => l + r,
                '-' => l - r,
                '*' => l * r,
                // Sizes are integers: '/' on two integers truncates, as it does in the generated C#.
                _ => r == 0 ? null : (IsWhole(l.Value) && IsWhole(r.Value) ? Math.Truncate(l.Value / r.Value) : l / r),
            };
        }

        protected override void Collect(List<string> names)
        {
            Left.Collect(names);
            Right.Collect(names);
        }

        protected override int Precedence => Operator is '+' or '-' ? 1 : 2;

        public override string ToString()
        {
            string left = Left.Precedence < Precedence ? "(" + Left + ")" : Left.ToString();
            // Right operands of - and / (and of * when a division sits there) keep their parentheses.
            bool wrapRight = Right.Precedence < Precedence || (Right.Precedence == Precedence && Operator is '-' or '/');
            string right = wrapRight ? "(" + Right + ")" : Right.ToString();
            return left + " " + Operator + " " + right;
        }

        private static bool IsWhole(double v) => v == Math.Floor(v);
    }

    /// <summary>Parses literals, names, + - * / and parentheses.</summary>
    public static bool TryParse(string text, out SizeExpr? expression, out string? error)
    {
        var parser = new Parser(text);
        try
        {
            expression = parser.ParseSum();
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

        public SizeExpr ParseSum()
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
            var left = ParseAtom();
            while (true)
            {
                SkipSpaces();
                if (AtEnd || (Current != '*' && Current != '/')) return left;
                char op = Current;
                _position++;
                left = new Binary(op, left, ParseAtom());
            }
        }

        private SizeExpr ParseAtom()
        {
            SkipSpaces();
            if (AtEnd) throw new FormatException("unexpected end");
            if (Current == '(')
            {
                _position++;
                var inner = ParseSum();
                SkipSpaces();
                if (AtEnd || Current != ')') throw new FormatException("missing ')'");
                _position++;
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
                while (!AtEnd && (char.IsLetterOrDigit(Current) || Current == '_')) _position++;
                return new Name(text.Substring(start, _position - start));
            }
            throw new FormatException($"unexpected '{Current}'");
        }
    }
}
