namespace Tessera.Text.Templates;

// The syntax tree of a template: expressions (evaluate to a value) and statements (write output). Each node keeps the
// line it starts on, for error messages.

internal abstract record Expr(int Line);

/// <summary>A literal: None, a bool, long, double or string.</summary>
internal sealed record ConstExpr(object? Value, int Line) : Expr(Line);

internal sealed record NameExpr(string Name, int Line) : Expr(Line);

/// <summary><c>obj.name</c>: attribute first (a method of str or dict), then item.</summary>
internal sealed record GetAttrExpr(Expr Target, string Name, int Line) : Expr(Line);

/// <summary><c>obj[index]</c>: item first, then attribute.</summary>
internal sealed record GetItemExpr(Expr Target, Expr Index, int Line) : Expr(Line);

/// <summary><c>start:stop:step</c> inside brackets.</summary>
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

/// <summary>Arguments of a call, filter or test: positional, then named.</summary>
internal sealed record ArgumentList(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named)
{
    public static readonly ArgumentList Empty = new([], []);
}

internal sealed record CallExpr(Expr Callee, ArgumentList Arguments, int Line) : Expr(Line);

/// <summary><c>value | name(args)</c>.</summary>
internal sealed record FilterExpr(Expr Target, string Name, ArgumentList Arguments, int Line) : Expr(Line);

/// <summary><c>value is [not] name(args)</c>.</summary>
internal sealed record TestExpr(Expr Target, string Name, ArgumentList Arguments, bool Negated, int Line) : Expr(Line);

/// <summary><c>not</c>, unary <c>-</c> and <c>+</c>.</summary>
internal sealed record UnaryExpr(string Operator, Expr Operand, int Line) : Expr(Line);

/// <summary>Arithmetic (<c>+ - * / // % **</c>), <c>~</c>, and the short-circuit <c>and</c> / <c>or</c>.</summary>
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, int Line) : Expr(Line);

/// <summary>A chain of comparisons, <c>a &lt; b &lt;= c</c>, as Python chains them; operators include <c>in</c> and <c>not in</c>.</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Operator, Expr Operand)> Rest, int Line) : Expr(Line);

/// <summary><c>then if test else otherwise</c>; without else, undefined.</summary>
internal sealed record ConditionalExpr(Expr Test, Expr Then, Expr? Otherwise, int Line) : Expr(Line);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);

/// <summary>Where a set or for assigns: a name, <c>ns.attr</c> (a namespace's attribute), or a tuple of targets.</summary>
internal abstract record Target;

internal sealed record NameTarget(string Name) : Target;

internal sealed record AttributeTarget(string Object, string Attribute) : Target;

internal sealed record TupleTarget(IReadOnlyList<Target> Items) : Target;

internal abstract record Stmt(int Line);

internal sealed record TextStmt(string Text, int Line) : Stmt(Line);

/// <summary><c>{{ expr }}</c>: the value as Python's str() writes it.</summary>
internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);

/// <summary>if / elif ... / else.</summary>
internal sealed record IfStmt(IReadOnlyList<(Expr Test, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt> Otherwise, int Line) : Stmt(Line);

/// <summary><c>for target in iterable [if filter]</c> ... [else] ...: the else body runs when nothing was iterated.</summary>
internal sealed record ForStmt(Target Target, Expr Iterable, Expr? Filter, IReadOnlyList<Stmt> Body, IReadOnlyList<Stmt> Otherwise, int Line) : Stmt(Line);

/// <summary><c>{% set target = value %}</c>.</summary>
internal sealed record SetStmt(Target Target, Expr Value, int Line) : Stmt(Line);

/// <summary><c>{% set name %}body{% endset %}</c>, the rendered body optionally through filters (Target is a placeholder name expression).</summary>
internal sealed record SetBlockStmt(Target Target, IReadOnlyList<Stmt> Body, IReadOnlyList<FilterExpr> Filters, int Line) : Stmt(Line);

/// <summary>A macro's parameter, with its default when it has one.</summary>
internal sealed record Parameter(string Name, Expr? Default);

internal sealed record MacroStmt(string Name, IReadOnlyList<Parameter> Parameters, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

/// <summary><c>{% call [(params)] macro(args) %}body{% endcall %}</c>: the body is the macro's <c>caller()</c>.</summary>
internal sealed record CallBlockStmt(CallExpr Call, IReadOnlyList<Parameter> CallerParameters, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

/// <summary><c>{% filter name(args) %}body{% endfilter %}</c> (filters' targets are a placeholder).</summary>
internal sealed record FilterBlockStmt(IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body, int Line) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);
