namespace Tessera.Text.Templates;

internal enum TokenKind
{
    /// <summary>Template text, printed as is.</summary>
    Text,
    /// <summary><c>{{</c></summary>
    VariableBegin,
    /// <summary><c>}}</c></summary>
    VariableEnd,
    /// <summary><c>{%</c></summary>
    BlockBegin,
    /// <summary><c>%}</c></summary>
    BlockEnd,
    Name,
    /// <summary>A string literal; <see cref="Token.Value"/> holds it unescaped.</summary>
    String,
    Integer,
    Float,
    /// <summary>Punctuation and operators: <c>+ - * / // % ** ~ == != &lt; &gt; &lt;= &gt;= = . , : | ( ) [ ] { }</c>.</summary>
    Operator,
    End,
}

/// <param name="Kind">What the token is.</param>
/// <param name="Value">The text (unescaped for strings), the operator, or the name.</param>
/// <param name="Number">An Integer (long) or Float (double) literal's value.</param>
/// <param name="Line">1-based line in the template.</param>
/// <param name="Column">1-based column.</param>
internal readonly record struct Token(TokenKind Kind, string Value, object? Number, int Line, int Column)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    public bool IsOperator(string op) => Kind == TokenKind.Operator && Value == op;

    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Text => "template text",
        TokenKind.String => $"string '{Value}'",
        _ => $"'{Value}'",
    };
}
