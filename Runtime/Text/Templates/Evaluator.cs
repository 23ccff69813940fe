using System.Diagnostics;
using System.Text;

namespace Tessera.Text.Templates;

/// <summary>
/// Renders a parsed template: runs its statements against a scope of variables, writing text, within the render's
/// <see cref="TemplateLimits"/>. One evaluator renders once.
/// </summary>
internal sealed class Evaluator
{
    private enum Flow { Normal, Break, Continue }

    private readonly TemplateLimits _limits;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _steps;
    private int _depth;

    public Evaluator(TemplateLimits limits, TimeProvider clock)
    {
        _limits = limits;
        Clock = clock;
    }

    /// <summary>The time <c>strftime_now</c> reads.</summary>
    public TimeProvider Clock { get; }

    public int MaxChars => _limits.MaxOutputChars;

    public string Render(IReadOnlyList<Stmt> body, Scope scope)
    {
        var output = new StringBuilder();
        if (Execute(body, scope, output) != Flow.Normal) throw new TemplateException("'break' or 'continue' outside a for loop");
        return output.ToString();
    }

    /// <summary>A macro's body, rendered in its scope; called by <see cref="Macro"/>.</summary>
    public string RenderMacroBody(IReadOnlyList<Stmt> body, Scope scope, int line)
    {
        if (++_depth > _limits.MaxDepth) throw new TemplateException($"macros call each other deeper than {_limits.MaxDepth} levels", line);
        Step(line);
        try
        {
            return Render(body, scope);
        }
        finally
        {
            _depth--;
        }
    }

    /// <summary>Counts one loop iteration or call against the render's limits.</summary>
    private void Step(int line)
    {
        if (++_steps > _limits.MaxSteps) throw new TemplateException($"the template runs more than {_limits.MaxSteps} loop iterations and calls", line);
        if (_clock.Elapsed > _limits.Timeout) throw new TemplateException($"the template takes longer than {_limits.Timeout.TotalSeconds} s to render", line);
    }

    private void Write(StringBuilder output, string text, int line)
    {
        if (output.Length + (long)text.Length > _limits.MaxOutputChars)
            throw new TemplateException($"the template writes more than {_limits.MaxOutputChars} characters", line);
        output.Append(text);
    }

    private Flow Execute(IReadOnlyList<Stmt> body, Scope scope, StringBuilder output)
    {
        foreach (var statement in body)
        {
            var flow = Execute(statement, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Stmt statement, Scope scope, StringBuilder output)
    {
        try
        {
            switch (statement)
            {
                case TextStmt text:
                    Write(output, text.Text, text.Line);
                    return Flow.Normal;
                case OutputStmt print:
                    Write(output, Py.Str(Evaluate(print.Value, scope)), print.Line);
                    return Flow.Normal;
                case IfStmt branch:
                    foreach (var (test, body) in branch.Branches)
                        if (Py.Truthy(Evaluate(test, scope))) return Execute(body, scope, output);
                    return Execute(branch.Otherwise, scope, output);
                case ForStmt loop:
                    return ExecuteFor(loop, scope, output);
                case SetStmt set:
                    Assign(set.Target, Evaluate(set.Value, scope), scope, set.Line);
                    return Flow.Normal;
                case SetBlockStmt block:
                    var captured = new StringBuilder();
                    if (Execute(block.Body, scope, captured) != Flow.Normal) throw new TemplateException("'break' or 'continue' inside a set block", block.Line);
                    Assign(block.Target, ApplyFilters(block.Filters, captured.ToString(), scope), scope, block.Line);
                    return Flow.Normal;
                case MacroStmt macro:
                    scope.Set(macro.Name, new Macro(macro.Name, macro.Parameters, macro.Body, scope));
                    return Flow.Normal;
                case CallBlockStmt call:
                    var caller = new Macro("caller", call.CallerParameters, call.Body, scope);
                    var callee = Evaluate(call.Call.Callee, scope);
                    var arguments = EvaluateArguments(call.Call.Arguments, scope, CalleeName(call.Call.Callee));
                    arguments.Named["caller"] = caller;
                    Write(output, Py.Str(Invoke(callee, arguments, call.Line)), call.Line);
                    return Flow.Normal;
                case FilterBlockStmt filter:
                    var inner = new StringBuilder();
                    if (Execute(filter.Body, scope, inner) != Flow.Normal) throw new TemplateException("'break' or 'continue' inside a filter block", filter.Line);
                    Write(output, Py.Str(ApplyFilters(filter.Filters, inner.ToString(), scope)), filter.Line);
                    return Flow.Normal;
                case BreakStmt:
                    return Flow.Break;
                case ContinueStmt:
                    return Flow.Continue;
                default:
                    throw new TemplateException($"unsupported statement {statement.GetType().Name}", statement.Line);
            }
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, statement.Line, raisedByTemplate: e.RaisedByTemplate);
        }
    }

    private object? ApplyFilters(IReadOnlyList<FilterExpr> filters, object? value, Scope scope)
    {
        foreach (var filter in filters)
            value = Filters.Apply(this, filter.Name, value, EvaluateArguments(filter.Arguments, scope, filter.Name), filter.Line);
        return value;
    }

    private Flow ExecuteFor(ForStmt loop, Scope scope, StringBuilder output)
    {
        var source = Py.Iterate(Evaluate(loop.Iterable, scope));
        var items = source;
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            var test = new Scope(scope);
            foreach (var item in source)
            {
                Step(loop.Line);
                Assign(loop.Target, item, test, loop.Line);
                if (Py.Truthy(Evaluate(loop.Filter, test))) kept.Add(item);
            }
            items = kept;
        }
        var info = new LoopInfo(items);
        for (int i = 0; i < items.Count; i++)
        {
            Step(loop.Line);
            info.Index0 = i;
            // Each iteration starts from the enclosing scope: what one iteration sets, the next does not see (Jinja2).
            var body = new Scope(scope);
            body.Set("loop", info);
            Assign(loop.Target, items[i], body, loop.Line);
            if (Execute(loop.Body, body, output) == Flow.Break) break;
        }
        return items.Count == 0 ? Execute(loop.Otherwise, scope, output) : Flow.Normal;
    }

    private void Assign(Target target, object? value, Scope scope, int line)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case AttributeTarget attribute:
                if (!scope.TryGet(attribute.Object, out var holder) || holder is not Namespace ns)
                    throw new TemplateException($"cannot set '{attribute.Object}.{attribute.Attribute}': '{attribute.Object}' is not a namespace()", line);
                ns.Attributes[attribute.Attribute] = value;
                break;
            case TupleTarget tuple:
                var items = value is string ? Py.Iterate(value) : value is List<object?> or object?[] ? (IReadOnlyList<object?>)value : Py.Iterate(value);
                if (items.Count != tuple.Items.Count)
                    throw new TemplateException($"cannot unpack {items.Count} values into {tuple.Items.Count} variables", line);
                for (int i = 0; i < items.Count; i++) Assign(tuple.Items[i], items[i], scope, line);
                break;
        }
    }

    // Expressions

    public object? Evaluate(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case ConstExpr constant:
                return constant.Value;
            case NameExpr name:
                return scope.TryGet(name.Name, out var value) ? value : new Undefined($"'{name.Name}' is undefined");
            case GetAttrExpr attr:
                return Access.Attribute(Evaluate(attr.Target, scope), attr.Name, attr.Line);
            case GetItemExpr item:
                var target = Evaluate(item.Target, scope);
                if (item.Index is SliceExpr slice)
                    return Access.Slice(target, Optional(slice.Start, scope), Optional(slice.Stop, scope), Optional(slice.Step, scope), item.Line);
                return Access.Item(target, Evaluate(item.Index, scope), item.Line);
            case CallExpr call:
                var callee = Evaluate(call.Callee, scope);
                return Invoke(callee, EvaluateArguments(call.Arguments, scope, CalleeName(call.Callee)), call.Line);
            case FilterExpr filter:
                return Filters.Apply(this, filter.Name, Evaluate(filter.Target, scope), EvaluateArguments(filter.Arguments, scope, filter.Name), filter.Line);
            case TestExpr test:
                bool passed = TestFunctions.Apply(this, test.Name, Evaluate(test.Target, scope), EvaluateArguments(test.Arguments, scope, test.Name), test.Line);
                return passed != test.Negated;
            case UnaryExpr unary:
                var operand = Evaluate(unary.Operand, scope);
                return unary.Operator switch
                {
                    "not" => !Py.Truthy(operand),
                    "-" => operand switch
                    {
                        long l => (object)-l,
                        double d => -d,
                        bool b => b ? -1L : 0L,
                        Undefined u => throw u.Fail(unary.Line, "negated"),
                        _ => throw new TemplateException($"bad operand type for unary -: '{Py.TypeName(operand)}'", unary.Line),
                    },
                    _ => Py.IsNumber(operand) ? (operand is bool b2 ? (b2 ? 1L : 0L) : operand) : throw new TemplateException($"bad operand type for unary +: '{Py.TypeName(operand)}'", unary.Line),
                };
            case BinaryExpr binary:
                return EvaluateBinary(binary, scope);
            case CompareExpr compare:
                var left = Evaluate(compare.First, scope);
                foreach (var (op, operandExpr) in compare.Rest)
                {
                    var right = Evaluate(operandExpr, scope);
                    if (!CompareOnce(op, left, right, compare.Line)) return false;
                    left = right;
                }
                return true;
            case ConditionalExpr conditional:
                if (Py.Truthy(Evaluate(conditional.Test, scope))) return Evaluate(conditional.Then, scope);
                return conditional.Otherwise is null ? new Undefined("the conditional expression has no else") : Evaluate(conditional.Otherwise, scope);
            case ListExpr list:
                return list.Items.Select(i => Evaluate(i, scope)).ToList();
            case TupleExpr tuple:
                return tuple.Items.Select(i => Evaluate(i, scope)).ToArray();
            case DictExpr dict:
                var result = new PyDict();
                foreach (var (keyExpr, valueExpr) in dict.Items)
                {
                    var key = Evaluate(keyExpr, scope);
                    result[Hashable(key, dict.Line)] = Evaluate(valueExpr, scope);
                }
                return result;
            default:
                throw new TemplateException($"unsupported expression {expr.GetType().Name}", expr.Line);
        }
    }

    /// <summary>A dict key: None, a list, a dict or an undefined cannot be one.</summary>
    public static object Hashable(object? key, int line) => key is string or long or double or bool or object?[]
        ? key : throw new TemplateException($"a {Py.TypeName(key)} cannot be a dict key", line);

    private object? Optional(Expr? expr, Scope scope) => expr is null ? null : Evaluate(expr, scope);

    private static string CalleeName(Expr callee) => callee switch
    {
        NameExpr name => name.Name,
        GetAttrExpr attr => attr.Name,
        _ => "the function",
    };

    public Arguments EvaluateArguments(ArgumentList list, Scope scope, string callee)
    {
        var positional = new List<object?>(list.Positional.Count);
        foreach (var arg in list.Positional) positional.Add(Evaluate(arg, scope));
        var named = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, arg) in list.Named) named[name] = Evaluate(arg, scope);
        return new Arguments(positional, named, callee);
    }

    public object? Invoke(object? callee, Arguments arguments, int line)
    {
        if (callee is Undefined u) throw u.Fail(line, "called as a function");
        if (callee is not ICallable callable) throw new TemplateException($"'{Py.TypeName(callee)}' object is not callable", line);
        Step(line);
        try
        {
            return callable.Call(this, arguments, line);
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, line, raisedByTemplate: e.RaisedByTemplate);
        }
    }

    private object? EvaluateBinary(BinaryExpr binary, Scope scope)
    {
        var left = Evaluate(binary.Left, scope);
        switch (binary.Operator)
        {
            case "and": return Py.Truthy(left) ? Evaluate(binary.Right, scope) : left;
            case "or": return Py.Truthy(left) ? left : Evaluate(binary.Right, scope);
        }
        var right = Evaluate(binary.Right, scope);
        try
        {
            return binary.Operator switch
            {
                "~" => Concat(Py.Str(left), Py.Str(right)),
                "+" => Py.Add(left, right, MaxChars),
                _ => Py.Arithmetic(binary.Operator, left, right, MaxChars),
            };
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, binary.Line, raisedByTemplate: e.RaisedByTemplate);
        }
    }

    private string Concat(string a, string b)
    {
        Py.LimitLength(a.Length + (long)b.Length, MaxChars);
        return a + b;
    }

    private static bool CompareOnce(string op, object? left, object? right, int line)
    {
        try
        {
            return op switch
            {
                "==" => Py.AreEqual(left, right),
                "!=" => !Py.AreEqual(left, right),
                "in" => Py.Contains(right, left),
                "not in" => !Py.Contains(right, left),
                "<" => Py.Compare(left, right, op) < 0,
                "<=" => Py.Compare(left, right, op) <= 0,
                ">" => Py.Compare(left, right, op) > 0,
                _ => Py.Compare(left, right, op) >= 0,
            };
        }
        catch (TemplateException e) when (e.Line == 0)
        {
            throw new TemplateException(e.Reason, line, raisedByTemplate: e.RaisedByTemplate);
        }
    }
}
