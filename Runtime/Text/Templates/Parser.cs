namespace Tessera.Text.Templates;

/// <summary>
/// Builds the syntax tree from the lexer's tokens, with Jinja2's grammar and precedence (lowest first): conditional
/// <c>a if c else b</c>, <c>or</c>, <c>and</c>, <c>not</c>, comparisons (<c>== != &lt; &gt; &lt;= &gt;= in</c>,
/// <c>not in</c>), <c>+ -</c>, <c>~</c>, <c>* / // %</c>, <c>**</c>, unary <c>- +</c>, then postfix <c>.attr [item] (call)</c>,
/// filters <c>|f</c> and tests <c>is t</c>. Statements: if/elif/else, for (with <c>if</c> filter and else), set (also
/// block set and <c>ns.attr</c>), macro, call, filter, break, continue, and Hugging Face's <c>generation</c> block.
/// </summary>
internal sealed class Parser
{
    private readonly List<Token> _tokens;
    private readonly int _maxDepth;
    private int _pos;
    private int _depth;

    private Parser(List<Token> tokens, int maxDepth)
    {
        _tokens = tokens;
        _maxDepth = maxDepth;
    }

    public static IReadOnlyList<Stmt> Parse(string source, int maxDepth)
    {
        var parser = new Parser(Lexer.Tokenize(source), maxDepth);
        var body = parser.ParseBody(out var end);
        if (end is { } tag) throw Error($"unexpected '{tag}': no block is open", parser.Previous);
        return body;
    }

    private Token Current => _tokens[_pos];

    private Token Previous => _tokens[Math.Max(0, _pos - 1)];

    private Token Next() => _tokens[_pos < _tokens.Count - 1 ? _pos++ : _pos];

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _pos++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _pos++;
        return true;
    }

    private void Expect(TokenKind kind, string value, string what)
    {
        if (Current.Kind != kind || Current.Value != value) throw Error($"expected {what}, got {Current}", Current);
        _pos++;
    }

    private string ExpectName(string what)
    {
        if (Current.Kind != TokenKind.Name) throw Error($"expected {what}, got {Current}", Current);
        return Next().Value;
    }

    private static TemplateException Error(string message, Token at) => new(message, at.Line, at.Column);

    private void Enter()
    {
        if (++_depth > _maxDepth) throw Error($"the template nests deeper than {_maxDepth} levels", Current);
    }

    // Statements

    /// <summary>Statements up to the end of the template or to a block tag this level does not handle, whose name is returned (the tag's name token is current).</summary>
    private List<Stmt> ParseBody(out string? endTag, params string[] ends)
    {
        Enter();
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.End:
                    endTag = null;
                    _depth--;
                    return body;
                case TokenKind.Text:
                    _pos++;
                    body.Add(new TextStmt(token.Value, token.Line));
                    break;
                case TokenKind.VariableBegin:
                    _pos++;
                    var value = ParseTuple();
                    Expect(TokenKind.VariableEnd, "}}", "'}}'");
                    body.Add(new OutputStmt(value, token.Line));
                    break;
                case TokenKind.BlockBegin:
                    _pos++;
                    if (Current.Kind != TokenKind.Name) throw Error($"expected a statement name, got {Current}", Current);
                    if (Array.IndexOf(ends, Current.Value) >= 0 || Current.Value.StartsWith("end", StringComparison.Ordinal) || Current.Value is "else" or "elif")
                    {
                        if (Array.IndexOf(ends, Current.Value) < 0) throw Error($"unexpected '{Current.Value}'" + (ends.Length > 0 ? $" (expected {string.Join(" or ", ends.Select(e => $"'{e}'"))})" : ""), Current);
                        endTag = Current.Value;
                        _depth--;
                        return body;
                    }
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected {token}", token);
            }
        }
    }

    /// <summary>Consumes the end tag's name and <c>%}</c>.</summary>
    private void EndTag()
    {
        _pos++;
        Expect(TokenKind.BlockEnd, "%}", "'%}'");
    }

    private List<Stmt> Block(string name, params string[] ends)
    {
        var body = ParseBody(out var end, ends);
        if (end is null) throw Error($"the '{name}' block is never closed (expected {string.Join(" or ", ends.Select(e => $"'{e}'"))})", Current);
        return body;
    }

    private Stmt ParseStatement()
    {
        var token = Next();
        switch (token.Value)
        {
            case "if": return ParseIf(token);
            case "for": return ParseFor(token);
            case "set": return ParseSet(token);
            case "macro": return ParseMacro(token);
            case "call": return ParseCallBlock(token);
            case "filter":
                var filters = ParseFilterChain(new ConstExpr(null, token.Line), first: true);
                Expect(TokenKind.BlockEnd, "%}", "'%}'");
                var filterBody = Block("filter", "endfilter");
                EndTag();
                return new FilterBlockStmt(filters, filterBody, token.Line);
            case "break" or "continue":
                Expect(TokenKind.BlockEnd, "%}", "'%}'");
                return token.Value == "break" ? new BreakStmt(token.Line) : new ContinueStmt(token.Line);
            case "generation":
                // transformers' AssistantTracker: marks the assistant's text for masks; rendering is the body as is.
                Expect(TokenKind.BlockEnd, "%}", "'%}'");
                var generated = Block("generation", "endgeneration");
                EndTag();
                return new IfStmt([(new ConstExpr(true, token.Line), generated)], [], token.Line);
            default:
                throw Error($"unknown tag '{token.Value}'", token);
        }
    }

    private IfStmt ParseIf(Token token)
    {
        var branches = new List<(Expr, IReadOnlyList<Stmt>)>();
        IReadOnlyList<Stmt> otherwise = [];
        var test = ParseTuple();
        while (true)
        {
            Expect(TokenKind.BlockEnd, "%}", "'%}'");
            var body = Block("if", "elif", "else", "endif");
            branches.Add((test, body));
            string tag = Next().Value;
            if (tag == "elif")
            {
                test = ParseTuple();
                continue;
            }
            if (tag == "else")
            {
                Expect(TokenKind.BlockEnd, "%}", "'%}'");
                otherwise = Block("if", "endif");
                EndTag();
            }
            else Expect(TokenKind.BlockEnd, "%}", "'%}'");
            return new IfStmt(branches, otherwise, token.Line);
        }
    }

    private ForStmt ParseFor(Token token)
    {
        var target = ParseTarget("in");
        if (!SkipName("in")) throw Error($"expected 'in' in the for loop, got {Current}", Current);
        var iterable = ParseTuple(withCondition: false);
        Expr? filter = SkipName("if") ? ParseExpression() : null;
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported", Current);
        Expect(TokenKind.BlockEnd, "%}", "'%}'");
        var body = Block("for", "else", "endfor");
        IReadOnlyList<Stmt> otherwise = [];
        if (Current.IsName("else"))
        {
            EndTag();
            otherwise = Block("for", "endfor");
        }
        EndTag();
        return new ForStmt(target, iterable, filter, body, otherwise, token.Line);
    }

    private Stmt ParseSet(Token token)
    {
        var target = ParseTarget("=");
        if (SkipOperator("="))
        {
            var value = ParseTuple();
            Expect(TokenKind.BlockEnd, "%}", "'%}'");
            return new SetStmt(target, value, token.Line);
        }
        var filters = Current.IsOperator("|") ? ParseFilterChain(new ConstExpr(null, token.Line), first: false) : [];
        Expect(TokenKind.BlockEnd, "%}", "'%}'");
        var body = Block("set", "endset");
        EndTag();
        return new SetBlockStmt(target, body, filters, token.Line);
    }

    private MacroStmt ParseMacro(Token token)
    {
        string name = ExpectName("the macro's name");
        var parameters = ParseParameters();
        Expect(TokenKind.BlockEnd, "%}", "'%}'");
        var body = Block("macro", "endmacro");
        EndTag();
        return new MacroStmt(name, parameters, body, token.Line);
    }

    private CallBlockStmt ParseCallBlock(Token token)
    {
        var parameters = Current.IsOperator("(") ? ParseParameters() : [];
        if (ParseExpression() is not CallExpr call) throw Error("expected a call after 'call'", token);
        Expect(TokenKind.BlockEnd, "%}", "'%}'");
        var body = Block("call", "endcall");
        EndTag();
        return new CallBlockStmt(call, parameters, body, token.Line);
    }

    private List<Parameter> ParseParameters()
    {
        Expect(TokenKind.Operator, "(", "'('");
        var parameters = new List<Parameter>();
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",", "','");
            if (SkipOperator(")")) break;
            string name = ExpectName("a parameter name");
            parameters.Add(new Parameter(name, SkipOperator("=") ? ParseExpression() : null));
        }
        return parameters;
    }

    /// <summary>An assignment target: a name, <c>ns.attr</c>, or names separated by commas (optionally in parentheses).</summary>
    private Target ParseTarget(string until)
    {
        var items = new List<Target>();
        bool parenthesized = SkipOperator("(");
        do
        {
            if (Current.IsName(until) || Current.IsOperator(until)) break;
            string name = ExpectName("a variable name");
            items.Add(SkipOperator(".") ? new AttributeTarget(name, ExpectName("an attribute name")) : new NameTarget(name));
        }
        while (SkipOperator(","));
        if (parenthesized) Expect(TokenKind.Operator, ")", "')'");
        if (items.Count == 0) throw Error($"expected a variable name, got {Current}", Current);
        return items.Count == 1 && !Previous.IsOperator(",") ? items[0] : new TupleTarget(items);
    }

    // Expressions

    /// <summary>An expression, or several separated by commas (a tuple without parentheses).</summary>
    private Expr ParseTuple(bool withCondition = true)
    {
        var line = Current.Line;
        var first = withCondition ? ParseExpression() : ParseOr();
        if (!Current.IsOperator(",")) return first;
        var items = new List<Expr> { first };
        while (SkipOperator(","))
        {
            if (IsTupleEnd()) break;
            items.Add(withCondition ? ParseExpression() : ParseOr());
        }
        return new TupleExpr(items, line);
    }

    private bool IsTupleEnd() => Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd || Current.IsOperator(")") || Current.IsName("if") || Current.IsOperator("=");

    private Expr ParseExpression()
    {
        Enter();
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var line = Next().Line;
            var test = ParseOr();
            var otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new ConditionalExpr(test, expr, otherwise, line);
        }
        _depth--;
        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (SkipName("or")) left = new BinaryExpr("or", left, ParseAnd(), left.Line);
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (SkipName("and")) left = new BinaryExpr("and", left, ParseNot(), left.Line);
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            var token = Next();
            Enter();
            var operand = ParseNot();
            _depth--;
            return new UnaryExpr("not", operand, token.Line);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && Current.Value is "==" or "!=" or "<" or ">" or "<=" or ">=") rest.Add((Next().Value, ParseMath1()));
            else if (SkipName("in")) rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && _tokens[_pos + 1].IsName("in"))
            {
                _pos += 2;
                rest.Add(("not in", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, first.Line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.Kind == TokenKind.Operator && Current.Value is "+" or "-") left = new BinaryExpr(Next().Value, left, ParseConcat(), left.Line);
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (SkipOperator("~")) left = new BinaryExpr("~", left, ParseMath2(), left.Line);
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Value is "*" or "/" or "//" or "%") left = new BinaryExpr(Next().Value, left, ParsePow(), left.Line);
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary(withFilter: true);
        while (SkipOperator("**")) left = new BinaryExpr("**", left, ParseUnary(withFilter: true), left.Line);
        return left;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Enter();
        Expr node;
        if (Current.Kind == TokenKind.Operator && Current.Value is "-" or "+")
        {
            var token = Next();
            node = new UnaryExpr(token.Value, ParseUnary(withFilter: false), token.Line);
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        if (withFilter) node = ParseFilterAndTests(node);
        _depth--;
        return node;
    }

    private Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Value switch
                {
                    "true" or "True" => new ConstExpr(true, token.Line),
                    "false" or "False" => new ConstExpr(false, token.Line),
                    "none" or "None" => new ConstExpr(null, token.Line),
                    _ => new NameExpr(token.Value, token.Line),
                };
            case TokenKind.String:
                string text = token.Value;
                while (Current.Kind == TokenKind.String) text += Next().Value;
                return new ConstExpr(text, token.Line);
            case TokenKind.Integer or TokenKind.Float:
                return new ConstExpr(token.Number, token.Line);
            case TokenKind.Operator when token.Value == "(":
                if (SkipOperator(")")) return new TupleExpr([], token.Line);
                var inner = ParseTuple();
                Expect(TokenKind.Operator, ")", "')'");
                return inner;
            case TokenKind.Operator when token.Value == "[":
                var items = new List<Expr>();
                while (!SkipOperator("]"))
                {
                    if (items.Count > 0) Expect(TokenKind.Operator, ",", "',' or ']'");
                    if (SkipOperator("]")) break;
                    items.Add(ParseExpression());
                }
                return new ListExpr(items, token.Line);
            case TokenKind.Operator when token.Value == "{":
                var pairs = new List<(Expr, Expr)>();
                while (!SkipOperator("}"))
                {
                    if (pairs.Count > 0) Expect(TokenKind.Operator, ",", "',' or '}'");
                    if (SkipOperator("}")) break;
                    var key = ParseExpression();
                    Expect(TokenKind.Operator, ":", "':'");
                    pairs.Add((key, ParseExpression()));
                }
                return new DictExpr(pairs, token.Line);
            default:
                throw Error($"unexpected {token}", token);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("."))
            {
                var dot = Next();
                var name = Next();
                node = name.Kind switch
                {
                    TokenKind.Name => new GetAttrExpr(node, name.Value, dot.Line),
                    TokenKind.Integer => new GetItemExpr(node, new ConstExpr(name.Number, dot.Line), dot.Line),
                    _ => throw Error($"expected an attribute name after '.', got {name}", name),
                };
            }
            else if (Current.IsOperator("["))
            {
                var bracket = Next();
                node = new GetItemExpr(node, ParseSubscript(), bracket.Line);
                Expect(TokenKind.Operator, "]", "']'");
            }
            else if (Current.IsOperator("(")) node = new CallExpr(node, ParseArguments(), node.Line);
            else return node;
        }
    }

    /// <summary>An index, or a slice <c>start:stop:step</c> with any part left out.</summary>
    private Expr ParseSubscript()
    {
        var line = Current.Line;
        Expr? start = Current.IsOperator(":") ? null : ParseExpression();
        if (!SkipOperator(":")) return start!;
        Expr? stop = Current.IsOperator("]") || Current.IsOperator(":") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]")) step = ParseExpression();
        return new SliceExpr(start, stop, step, line);
    }

    private ArgumentList ParseArguments()
    {
        Expect(TokenKind.Operator, "(", "'('");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        while (!SkipOperator(")"))
        {
            if (positional.Count + named.Count > 0) Expect(TokenKind.Operator, ",", "',' or ')'");
            if (SkipOperator(")")) break;
            if (Current.Kind == TokenKind.Name && _tokens[_pos + 1].IsOperator("="))
            {
                string name = Next().Value;
                _pos++;
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Error("a positional argument follows a named one", Current);
                positional.Add(ParseExpression());
            }
        }
        return new ArgumentList(positional, named);
    }

    private Expr ParseFilterAndTests(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|")) node = ParseFilterChain(node, first: false)[^1];
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = new CallExpr(node, ParseArguments(), node.Line);
            else return node;
        }
    }

    /// <summary>
    /// <c>| f(args) | g</c>: each filter takes the one before as its target. Returns every step (the last is the whole
    /// chain); with <paramref name="first"/> the leading <c>|</c> is absent (<c>{% filter upper %}</c>).
    /// </summary>
    private List<FilterExpr> ParseFilterChain(Expr node, bool first)
    {
        var chain = new List<FilterExpr>();
        while (first || SkipOperator("|"))
        {
            first = false;
            var token = Current;
            string name = ExpectName("a filter name");
            while (SkipOperator(".")) name += "." + ExpectName("a filter name");
            if (!Filters.Names.Contains(name)) throw Error($"unknown filter '{name}'", token);
            var filter = new FilterExpr(node, name, Current.IsOperator("(") ? ParseArguments() : ArgumentList.Empty, token.Line);
            chain.Add(filter);
            node = filter;
        }
        return chain;
    }

    private Expr ParseTest(Expr node)
    {
        var token = Next();
        bool negated = SkipName("not");
        string name = ExpectName("a test name");
        while (SkipOperator(".")) name += "." + ExpectName("a test name");
        if (!TestFunctions.Names.Contains(name)) throw Error($"unknown test '{name}'", token);
        ArgumentList arguments = ArgumentList.Empty;
        if (Current.IsOperator("(")) arguments = ParseArguments();
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !(Current.IsName("else") || Current.IsName("or") || Current.IsName("and")))
        {
            if (Current.IsName("is")) throw Error("tests cannot be chained with 'is'", Current);
            arguments = new ArgumentList([ParsePostfix(ParsePrimary())], []);
        }
        return new TestExpr(node, name, arguments, negated, token.Line);
    }
}
