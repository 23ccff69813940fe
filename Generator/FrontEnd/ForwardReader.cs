using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Tessera.Generator.Constants;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.FrontEnd;

/// <summary>
/// Lowers one Forward body to <see cref="ForwardStep"/>s with the semantic model: locals become SSA values, module
/// field calls, Tessera.Ops calls and + / * become steps, a foreach over a [Layers] field becomes one Layers step,
/// Mixture(experts, x, routing) over an [Experts] field one Mixture step, <c>condition ? a : b</c> over tensors one
/// Select step. Scalar arguments (sizes, a RoPE base, a window) are kept as <see cref="IR.SizeExpr"/> text.
/// Anything else is reported where it stands (TSR0001, TSR0002) and lowering goes on, so one build shows every error.
/// </summary>
internal sealed class ForwardReader
{
    private readonly SemanticModel _semantic;
    private readonly IReadOnlyCollection<string> _moduleFields;
    private readonly LayersFieldInfo? _layers;
    private readonly ExpertsFieldInfo? _experts;
    private readonly IReadOnlyCollection<string> _configFields;
    private readonly IReadOnlyCollection<string> _layerFields;
    private readonly List<DiagnosticInfo> _diagnostics;
    private readonly CancellationToken _token;
    private readonly List<ForwardStep> _steps = new();
    private readonly Dictionary<string, int> _locals = new();
    private readonly HashSet<string> _caches = new();
    private int _result = -1;

    private ForwardReader(SemanticModel semantic, IReadOnlyCollection<string> moduleFields, LayersFieldInfo? layers, ExpertsFieldInfo? experts,
        IReadOnlyCollection<string> configFields, IReadOnlyCollection<string> layerFields, List<DiagnosticInfo> diagnostics, CancellationToken token)
    {
        _semantic = semantic;
        _moduleFields = moduleFields;
        _layers = layers;
        _experts = experts;
        _configFields = configFields;
        _layerFields = layerFields;
        _diagnostics = diagnostics;
        _token = token;
    }

    /// <param name="layerFields">the per-layer [Config] fields (arrays), read as Name[Layer]</param>
    public static ForwardProgram Read(MethodDeclarationSyntax method, SemanticModel semantic, IReadOnlyCollection<string> moduleFields,
        LayersFieldInfo? layers, ExpertsFieldInfo? experts, IReadOnlyCollection<string> configFields, IReadOnlyCollection<string> layerFields,
        List<DiagnosticInfo> diagnostics, CancellationToken token)
    {
        var reader = new ForwardReader(semantic, moduleFields, layers, experts, configFields, layerFields, diagnostics, token);
        reader.ReadMethod(method);
        return new ForwardProgram(reader._steps.ToEquatableArray(), reader._result);
    }

    private void ReadMethod(MethodDeclarationSyntax method)
    {
        foreach (var parameter in method.ParameterList.Parameters)
        {
            var type = _semantic.GetDeclaredSymbol(parameter, _token)?.Type;
            string name = parameter.Identifier.ValueText;
            if (IsType(type, WellKnownNames.Tensor))
                _locals[name] = Add(StepKind.Parameter, name, [], [], name, name, parameter);
            else if (IsType(type, WellKnownNames.KvCache))
                _caches.Add(name);
            else
                Report(DiagnosticDescriptors.UnsupportedExpression, parameter, parameter.ToString());
        }

        if (method.ExpressionBody is { } arrow)
        {
            _result = ReadExpression(arrow.Expression, "result");
        }
        else if (method.Body is { } body)
        {
            foreach (var statement in body.Statements)
            {
                _token.ThrowIfCancellationRequested();
                ReadStatement(statement);
            }
        }

        if (_result < 0)
            Report(DiagnosticDescriptors.UnsupportedStatement, method.Identifier, "body without a final 'return' of a tensor");
    }

    private void ReadStatement(StatementSyntax statement)
    {
        switch (statement)
        {
            case LocalDeclarationStatementSyntax local:
                foreach (var variable in local.Declaration.Variables)
                {
                    if (variable.Initializer is null)
                    {
                        Report(DiagnosticDescriptors.UnsupportedStatement, variable, "declaration without an initializer");
                        continue;
                    }
                    _locals[variable.Identifier.ValueText] = ReadExpression(variable.Initializer.Value, variable.Identifier.ValueText);
                }
                break;

            case ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax assignment }:
                ReadAssignment(assignment);
                break;

            case ForEachStatementSyntax loop:
                ReadLayersLoop(loop);
                break;

            case ReturnStatementSyntax { Expression: { } returned }:
                _result = ReadExpression(returned, "result");
                break;

            case BlockSyntax block:
                foreach (var inner in block.Statements) ReadStatement(inner);
                break;

            default:
                Report(DiagnosticDescriptors.UnsupportedStatement, statement, Describe(statement));
                break;
        }
    }

    private void ReadAssignment(AssignmentExpressionSyntax assignment)
    {
        if (assignment.Left is not IdentifierNameSyntax { Identifier.ValueText: var name } || !_locals.TryGetValue(name, out int current))
        {
            Report(DiagnosticDescriptors.UnsupportedExpression, assignment.Left, assignment.Left.ToString());
            return;
        }

        switch (assignment.Kind())
        {
            case SyntaxKind.SimpleAssignmentExpression:
                _locals[name] = ReadExpression(assignment.Right, name);
                break;
            case SyntaxKind.AddAssignmentExpression:
            case SyntaxKind.MultiplyAssignmentExpression:
                int right = ReadExpression(assignment.Right, null);
                var kind = assignment.IsKind(SyntaxKind.AddAssignmentExpression) ? StepKind.Add : StepKind.Mul;
                _locals[name] = Add(kind, kind.ToString(), [current, right], [], name, assignment.ToString(), assignment);
                break;
            default:
                Report(DiagnosticDescriptors.UnsupportedExpression, assignment, assignment.OperatorToken.Text);
                break;
        }
    }

    /// <summary><c>foreach (var layer in Layers) x = layer.Forward(x, cache);</c> — the only loop the vocabulary has.</summary>
    private void ReadLayersLoop(ForEachStatementSyntax loop)
    {
        var collection = _semantic.GetSymbolInfo(loop.Expression, _token).Symbol;
        var statements = loop.Statement is BlockSyntax b ? b.Statements.ToList() : new List<StatementSyntax> { loop.Statement };
        if (_layers is null || collection is not IFieldSymbol { Name: var field } || field != _layers.Name
            || statements.Count != 1
            || statements[0] is not ExpressionStatementSyntax { Expression: AssignmentExpressionSyntax { Left: IdentifierNameSyntax carried, Right: InvocationExpressionSyntax call } assignment }
            || assignment.Kind() != SyntaxKind.SimpleAssignmentExpression
            || call.Expression is not MemberAccessExpressionSyntax { Expression: IdentifierNameSyntax receiver, Name.Identifier.ValueText: "Forward" }
            || receiver.Identifier.ValueText != loop.Identifier.ValueText
            || !_locals.TryGetValue(carried.Identifier.ValueText, out int input))
        {
            Report(DiagnosticDescriptors.UnsupportedStatement, loop.ForEachKeyword, "loop other than 'foreach (var layer in <[Layers] field>) x = layer.Forward(x, cache);'");
            return;
        }

        var args = call.ArgumentList.Arguments;
        if (args.Count != 2 || args[0].Expression is not IdentifierNameSyntax { Identifier.ValueText: var argName } || argName != carried.Identifier.ValueText
            || !IsCache(args[1].Expression))
        {
            Report(DiagnosticDescriptors.UnsupportedExpression, call, call.ToString());
            return;
        }

        _locals[carried.Identifier.ValueText] = Add(StepKind.Layers, _layers.Name, [input], [], carried.Identifier.ValueText, loop.ToString(), loop.Expression);
    }

    private int ReadExpression(ExpressionSyntax expression, string? name)
    {
        _token.ThrowIfCancellationRequested();
        switch (expression)
        {
            case ParenthesizedExpressionSyntax p:
                return ReadExpression(p.Expression, name);

            case IdentifierNameSyntax id when _locals.TryGetValue(id.Identifier.ValueText, out int value):
                return value;

            case BinaryExpressionSyntax binary when binary.IsKind(SyntaxKind.AddExpression) || binary.IsKind(SyntaxKind.MultiplyExpression):
                {
                    int left = ReadExpression(binary.Left, null);
                    int right = ReadExpression(binary.Right, null);
                    var kind = binary.IsKind(SyntaxKind.AddExpression) ? StepKind.Add : StepKind.Mul;
                    return Add(kind, kind.ToString(), [left, right], [], name ?? (kind == StepKind.Add ? "sum" : "product"), binary.ToString(), binary);
                }

            case InvocationExpressionSyntax call:
                return ReadCall(call, name);

            case ConditionalExpressionSyntax choice when IsType(_semantic.GetTypeInfo(choice, _token).Type, WellKnownNames.Tensor):
                {
                    // A per-layer (or per-config) choice between two tensors: only the chosen side runs.
                    string condition = ReadSize(choice.Condition);
                    int whenTrue = ReadExpression(choice.WhenTrue, null);
                    int whenFalse = ReadExpression(choice.WhenFalse, null);
                    return Add(StepKind.Select, "Select", [whenTrue, whenFalse], [condition], name ?? "choice", choice.ToString(), choice);
                }
        }

        Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString());
        return Poison(name ?? "error", expression);
    }

    private int ReadCall(InvocationExpressionSyntax call, string? name)
    {
        var symbol = _semantic.GetSymbolInfo(call, _token).Symbol as IMethodSymbol;
        var callee = _semantic.GetSymbolInfo(call.Expression, _token).Symbol;

        // A module field of delegate type: Q(h).
        if (symbol is { MethodKind: MethodKind.DelegateInvoke } && callee is IFieldSymbol field && _moduleFields.Contains(field.Name))
        {
            if (call.ArgumentList.Arguments.Count != 1)
            {
                Report(DiagnosticDescriptors.UnsupportedExpression, call, call.ToString());
                return Poison(name ?? "error", call);
            }
            int input = ReadExpression(call.ArgumentList.Arguments[0].Expression, null);
            return Add(StepKind.Module, field.Name, [input], [], name ?? LowerFirst(field.Name) + "Out", call.ToString(), call);
        }

        // An op of the vocabulary: Rope(x, Heads, Theta).
        if (symbol is { IsStatic: true } && symbol.ContainingType?.ToDisplayString() == WellKnownNames.Ops)
        {
            var inputs = new List<int>();
            var args = new List<string>();
            string? experts = null;
            foreach (var (parameter, argument) in InParameterOrder(symbol, call))
            {
                if (argument is null)
                {
                    // An optional argument left out: its default, as written in Tessera.Ops.
                    args.Add(parameter.ExplicitDefaultValue switch
                    {
                        null => "null",
                        bool b => b ? "true" : "false",
                        var value => System.Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "0",
                    });
                    continue;
                }
                var type = _semantic.GetTypeInfo(argument.Expression, _token).Type;
                if (IsType(type, WellKnownNames.Tensor) || IsType(type, WellKnownNames.Routing)) inputs.Add(ReadExpression(argument.Expression, null));
                else if (IsType(type, WellKnownNames.KvCache)) { if (!IsCache(argument.Expression)) Report(DiagnosticDescriptors.UnsupportedExpression, argument, argument.ToString()); }
                else if (type is IArrayTypeSymbol) experts = ReadExperts(argument.Expression);
                else args.Add(ReadSize(argument.Expression));
            }
            if (symbol.Name == "Mixture")
                return Add(StepKind.Mixture, experts ?? "<error>", inputs.ToArray(), [], name ?? "mixture", call.ToString(), call);
            return Add(StepKind.Op, symbol.Name, inputs.ToArray(), args.ToArray(), name ?? LowerFirst(symbol.Name), call.ToString(), call);
        }

        Report(DiagnosticDescriptors.UnsupportedExpression, call.Expression, call.Expression.ToString());
        return Poison(name ?? "error", call);
    }

    /// <summary>The arguments of an op call matched to its parameters (named ones by name), in parameter order; null for an omitted optional one.</summary>
    private static IEnumerable<(IParameterSymbol Parameter, ArgumentSyntax? Argument)> InParameterOrder(IMethodSymbol method, InvocationExpressionSyntax call)
    {
        var byParameter = new ArgumentSyntax?[method.Parameters.Length];
        var arguments = call.ArgumentList.Arguments;
        for (int i = 0; i < arguments.Count; i++)
        {
            int index = arguments[i].NameColon is { } named ? IndexOfParameter(method, named.Name.Identifier.ValueText) : i;
            if (index >= 0 && index < byParameter.Length) byParameter[index] = arguments[i];
        }
        for (int i = 0; i < byParameter.Length; i++)
            if (byParameter[i] is not null || method.Parameters[i].HasExplicitDefaultValue)
                yield return (method.Parameters[i], byParameter[i]);
    }

    /// <summary>The experts argument of Mixture: this module's [Experts] field, by name.</summary>
    private string? ReadExperts(ExpressionSyntax expression)
    {
        if (_experts is not null && expression is IdentifierNameSyntax id && _semantic.GetSymbolInfo(id, _token).Symbol is IFieldSymbol { Name: var field } && field == _experts.Name)
            return field;
        Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString() + " (Mixture takes this block's [Experts] field)");
        return null;
    }

    /// <summary>
    /// A scalar argument, kept as <see cref="IR.SizeExpr"/> text: literals (numbers, true, false, null), [Config] fields,
    /// <c>Layer</c> (Tessera.Ops.Layer) and a per-layer field read at it (<c>Sliding[Layer]</c>), arithmetic (+ - * / %),
    /// comparisons, &amp;&amp; || !, <c>?:</c>, <c>MathF.Sqrt</c> (or Math.Sqrt) and members of the runtime's types
    /// (<c>RopeScaling.None</c>), with parentheses.
    /// </summary>
    private string ReadSize(ExpressionSyntax expression)
    {
        switch (expression)
        {
            case LiteralExpressionSyntax literal when literal.IsKind(SyntaxKind.NumericLiteralExpression):
                return literal.Token.ValueText;
            case LiteralExpressionSyntax literal when literal.IsKind(SyntaxKind.TrueLiteralExpression) || literal.IsKind(SyntaxKind.FalseLiteralExpression):
                return literal.Token.ValueText;
            case LiteralExpressionSyntax literal when literal.IsKind(SyntaxKind.NullLiteralExpression):
                return "null";
            case IdentifierNameSyntax or MemberAccessExpressionSyntax when _semantic.GetSymbolInfo(expression, _token).Symbol is { } symbol && ReadSymbol(symbol) is { } name:
                return name;
            case ElementAccessExpressionSyntax { ArgumentList.Arguments: { Count: 1 } index } element
                when _semantic.GetSymbolInfo(element.Expression, _token).Symbol is IFieldSymbol f && _layerFields.Contains(f.Name):
                {
                    string at = ReadSize(index[0].Expression);
                    if (at != IR.SizeExpr.LayerName)
                        Report(DiagnosticDescriptors.UnsupportedExpression, index[0], $"{index[0]} (a per-layer field is read at Layer, the layer the block runs as)");
                    return f.Name + "[" + IR.SizeExpr.LayerName + "]";
                }
            case InvocationExpressionSyntax { ArgumentList.Arguments: { Count: 1 } arguments } call
                when _semantic.GetSymbolInfo(call, _token).Symbol is IMethodSymbol { Name: "Sqrt", ContainingType: var type }
                     && type?.ToDisplayString() is "System.MathF" or "System.Math":
                return "Sqrt(" + ReadSize(arguments[0].Expression) + ")";
            case ParenthesizedExpressionSyntax p:
                return "(" + ReadSize(p.Expression) + ")";
            case CastExpressionSyntax cast when _semantic.GetTypeInfo(cast, _token).Type?.SpecialType is SpecialType.System_Single or SpecialType.System_Double:
                // A widening cast to a floating type changes nothing the expression computes.
                return "(" + ReadSize(cast.Expression) + ")";
            case PrefixUnaryExpressionSyntax not when not.IsKind(SyntaxKind.LogicalNotExpression):
                return "!(" + ReadSize(not.Operand) + ")";
            case ConditionalExpressionSyntax choice:
                return "(" + ReadSize(choice.Condition) + " ? " + ReadSize(choice.WhenTrue) + " : " + ReadSize(choice.WhenFalse) + ")";
            case BinaryExpressionSyntax b when SizeOperators.Contains(b.Kind()):
                return ReadSize(b.Left) + " " + b.OperatorToken.Text + " " + ReadSize(b.Right);
        }
        Report(DiagnosticDescriptors.UnsupportedExpression, expression, expression.ToString());
        return "0";
    }

    private static readonly HashSet<SyntaxKind> SizeOperators =
    [
        SyntaxKind.AddExpression, SyntaxKind.SubtractExpression, SyntaxKind.MultiplyExpression, SyntaxKind.DivideExpression, SyntaxKind.ModuloExpression,
        SyntaxKind.EqualsExpression, SyntaxKind.NotEqualsExpression, SyntaxKind.LessThanExpression, SyntaxKind.LessThanOrEqualExpression,
        SyntaxKind.GreaterThanExpression, SyntaxKind.GreaterThanOrEqualExpression, SyntaxKind.LogicalAndExpression, SyntaxKind.LogicalOrExpression,
    ];

    /// <summary>A name a scalar argument may use: a scalar [Config] field, Tessera.Ops.Layer, or a static member of a runtime type.</summary>
    private string? ReadSymbol(ISymbol symbol) => symbol switch
    {
        IFieldSymbol f when _configFields.Contains(f.Name) && !_layerFields.Contains(f.Name) => f.Name,
        IPropertySymbol { Name: "Layer", ContainingType: var t } when t.ToDisplayString() == WellKnownNames.Ops => IR.SizeExpr.LayerName,
        IPropertySymbol or IFieldSymbol when symbol.IsStatic && symbol.ContainingType?.ContainingNamespace?.ToDisplayString() == WellKnownNames.Namespace
                                             && symbol.ContainingType.ToDisplayString() != WellKnownNames.Ops && symbol.ContainingType.ContainingType is null =>
            symbol.ContainingType.Name + "." + symbol.Name,
        _ => null,
    };

    private bool IsCache(ExpressionSyntax expression) => expression is IdentifierNameSyntax id && _caches.Contains(id.Identifier.ValueText);

    private int Add(StepKind kind, string target, int[] inputs, string[] args, string name, string source, SyntaxNode node) =>
        Add(kind, target, inputs, args, name, source, LocationInfo.From(node));

    private int Add(StepKind kind, string target, int[] inputs, string[] args, string name, string source, LocationInfo? location)
    {
        int id = _steps.Count;
        // The expression as the generated comments quote it: on one line, without the comments written inside it.
        string text = System.Text.RegularExpressions.Regex.Replace(source, @"//[^\r\n]*|/\*.*?\*/", " ", System.Text.RegularExpressions.RegexOptions.Singleline);
        _steps.Add(new ForwardStep(id, kind, target, inputs.ToEquatableArray(), args.ToEquatableArray(), name,
            string.Join(" ", text.Split((char[]?)null, System.StringSplitOptions.RemoveEmptyEntries)), location));
        return id;
    }

    /// <summary>A stand-in value after an error, so that lowering continues and reports later errors too.</summary>
    private int Poison(string name, SyntaxNode node) => Add(StepKind.Parameter, "<error>", [], [], name, node.ToString(), node);

    private void Report(DiagnosticDescriptor descriptor, SyntaxNode node, string argument) =>
        _diagnostics.Add(DiagnosticInfo.Create(descriptor, LocationInfo.From(node), argument));

    private void Report(DiagnosticDescriptor descriptor, SyntaxToken token, string argument) =>
        _diagnostics.Add(DiagnosticInfo.Create(descriptor, LocationInfo.From(token.GetLocation()), argument));

    /// <summary>The position of the parameter a named argument names, or -1 (a misspelt name is the compiler's error).</summary>
    private static int IndexOfParameter(IMethodSymbol method, string name)
    {
        for (int i = 0; i < method.Parameters.Length; i++)
            if (method.Parameters[i].Name == name) return i;
        return -1;
    }

    private static string LowerFirst(string name) => name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name.Substring(1);

    private static bool IsType(ITypeSymbol? type, string metadataName) => type?.ToDisplayString() == metadataName;

    private static string Describe(StatementSyntax statement) => statement switch
    {
        IfStatementSyntax => "'if' statement",
        ForStatementSyntax => "'for' loop",
        WhileStatementSyntax => "'while' loop",
        DoStatementSyntax => "'do' loop",
        TryStatementSyntax => "'try' statement",
        ExpressionStatementSyntax => "expression statement that is not an assignment",
        ReturnStatementSyntax => "'return' without a value",
        _ => statement.Kind().ToString(),
    };
}
