using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Text.Templates;

/// <summary>
/// Splits a template into text and the tokens of its <c>{{ }}</c> and <c>{% %}</c> tags, with the whitespace rules of
/// the Jinja2 environment Hugging Face renders chat templates in: <c>trim_blocks</c> (the newline after a block or
/// comment tag is dropped), <c>lstrip_blocks</c> (spaces and tabs before a block or comment tag on its own line are
/// dropped, unless the tag opens with <c>{%+</c>), <c>-</c> on either side of a tag (all whitespace on that side is
/// dropped), newlines normalized to <c>\n</c> and one trailing newline of the template dropped
/// (<c>keep_trailing_newline=False</c>).
/// </summary>
internal sealed partial class Lexer
{
    private readonly string _source;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private int _line = 1;
    private int _lineStart;

    private Lexer(string source) => _source = source;

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(Normalize(source));
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>Jinja's newline handling: \r\n and \r become \n; one final newline is dropped.</summary>
    private static string Normalize(string source)
    {
        string text = source.Replace("\r\n", "\n").Replace('\r', '\n');
        return text.EndsWith('\n') ? text[..^1] : text;
    }

    private void Run()
    {
        bool lineStarting = true;
        while (_pos < _source.Length)
        {
            int tag = NextTag(_pos);
            string text = _source[_pos..tag];
            if (tag < _source.Length)
            {
                char kind = _source[tag + 1];
                char modifier = tag + 2 < _source.Length ? _source[tag + 2] : '\0';
                if (modifier == '-') text = text.TrimEnd(PyWhitespace);
                else if (kind != '{' && modifier != '+')
                {
                    // lstrip_blocks: the spaces before a block or comment tag alone on its line.
                    int lineBegin = text.LastIndexOf('\n') + 1;
                    if ((lineBegin > 0 || lineStarting) && lineBegin < text.Length && text.AsSpan(lineBegin).IndexOfAnyExcept(PyWhitespace) < 0)
                        text = text[..lineBegin];
                }
            }
            if (text.Length > 0) Add(TokenKind.Text, text, null, _pos);
            Advance(tag);
            if (tag >= _source.Length) break;
            lineStarting = LexTag(tag);
        }
        Add(TokenKind.End, "", null, _pos);
    }

    /// <summary>Where the next <c>{{</c>, <c>{%</c> or <c>{#</c> starts, or the end.</summary>
    private int NextTag(int from)
    {
        for (int i = _source.IndexOf('{', from); i >= 0 && i + 1 < _source.Length; i = _source.IndexOf('{', i + 1))
            if (_source[i + 1] is '{' or '%' or '#') return i;
        return _source.Length;
    }

    /// <summary>Lexes one tag starting at <paramref name="start"/>; returns whether what it consumed ends a line.</summary>
    private bool LexTag(int start)
    {
        char kind = _source[start + 1];
        int pos = start + 2;
        if (pos < _source.Length && _source[pos] is '-' or '+') pos++;
        if (kind == '#')
        {
            int close = _source.IndexOf("#}", pos, StringComparison.Ordinal);
            if (close < 0) throw Error("the comment is never closed ('#}' missing)", start);
            bool strip = close > pos && _source[close - 1] == '-';
            Advance(close + 2);
            return AfterTagEnd(strip, trim: true);
        }
        bool block = kind == '%';
        if (block && RawBegin().Match(_source, pos) is { Success: true } raw) return LexRaw(start, raw);
        Add(block ? TokenKind.BlockBegin : TokenKind.VariableBegin, block ? "{%" : "{{", null, start);
        Advance(pos);
        var brackets = new Stack<char>();
        while (true)
        {
            while (_pos < _source.Length && char.IsWhiteSpace(_source[_pos])) Advance(_pos + 1);
            if (_pos >= _source.Length) throw Error($"the tag is never closed ('{(block ? "%}" : "}}")}' missing)", start);
            if (brackets.Count == 0)
            {
                string close = block ? "%}" : "}}";
                bool minus = Match("-" + close), plus = !minus && block && Match("+" + close);
                if (minus || plus || Match(close))
                {
                    Add(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, close, null, _pos);
                    Advance(_pos + close.Length + (minus || plus ? 1 : 0));
                    return AfterTagEnd(minus, trim: block && !plus);
                }
            }
            LexToken(brackets);
        }
    }

    /// <summary>
    /// <c>{% raw %}...{% endraw %}</c>: the text between is printed as written. The tags take whitespace control and
    /// lstrip_blocks like any block tag; trim_blocks applies after endraw only, as in Jinja2.
    /// </summary>
    private bool LexRaw(int start, Match begin)
    {
        Advance(begin.Index + begin.Length);
        // Jinja2 trims no newline after {% raw %} (its raw_begin rule has no block suffix), only after {% endraw %}.
        AfterTagEnd(strip: begin.Groups[1].Value == "-", trim: false);
        var end = RawEnd().Match(_source, _pos);
        if (!end.Success) throw Error("the raw block is never closed ('{% endraw %}' missing)", start);
        string text = _source[_pos..end.Index];
        string modifier = end.Groups[1].Value;
        if (modifier == "-") text = text.TrimEnd(PyWhitespace);
        else if (modifier != "+")
        {
            int lineBegin = text.LastIndexOf('\n') + 1;
            if (lineBegin > 0 && lineBegin < text.Length && text.AsSpan(lineBegin).IndexOfAnyExcept(PyWhitespace) < 0) text = text[..lineBegin];
        }
        if (text.Length > 0) Add(TokenKind.Text, text, null, _pos);
        Advance(end.Index + end.Length);
        return AfterTagEnd(strip: end.Groups[2].Value == "-", trim: end.Groups[2].Value != "+");
    }

    [GeneratedRegex(@"\G\s*raw\s*(-?)%}")]
    private static partial Regex RawBegin();

    [GeneratedRegex(@"{%([-+]?)\s*endraw\s*([-+]?)%}")]
    private static partial Regex RawEnd();

    /// <summary>After a tag: <c>-</c> drops all whitespace, trim_blocks one newline.</summary>
    private bool AfterTagEnd(bool strip, bool trim)
    {
        if (strip)
        {
            int end = _pos;
            while (end < _source.Length && IsPyWhitespace(_source[end])) end++;
            bool newline = end > _pos && _source[end - 1] == '\n';
            Advance(end);
            return newline;
        }
        if (trim && _pos < _source.Length && _source[_pos] == '\n')
        {
            Advance(_pos + 1);
            return true;
        }
        return false;
    }

    private void LexToken(Stack<char> brackets)
    {
        int start = _pos;
        char c = _source[_pos];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            int end = _pos + 1;
            while (end < _source.Length && (char.IsAsciiLetterOrDigit(_source[end]) || _source[end] == '_')) end++;
            Add(TokenKind.Name, _source[_pos..end], null, start);
            Advance(end);
        }
        else if (char.IsAsciiDigit(c)) LexNumber();
        else if (c is '\'' or '"') LexString(c);
        else
        {
            string op = Match("//") ? "//" : Match("**") ? "**" : Match("==") ? "==" : Match("!=") ? "!=" : Match("<=") ? "<=" : Match(">=") ? ">=" : c.ToString();
            if (op.Length == 1 && "+-*/%~<>=.,:|()[]{}".IndexOf(op[0]) < 0) throw Error($"unexpected character '{c}'", start);
            if (op is "(" or "[" or "{") brackets.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                char open = op == ")" ? '(' : op == "]" ? '[' : '{';
                if (brackets.Count == 0 || brackets.Pop() != open) throw Error($"unexpected '{op}'", start);
            }
            Add(TokenKind.Operator, op, null, start);
            Advance(_pos + op.Length);
        }
    }

    private void LexNumber()
    {
        int start = _pos, end = _pos;
        while (end < _source.Length && (char.IsAsciiDigit(_source[end]) || _source[end] == '_')) end++;
        bool isFloat = false;
        // After '.', digits are an item index (messages.0), never a float.
        bool afterDot = _tokens.Count > 0 && _tokens[^1].IsOperator(".");
        if (!afterDot && end + 1 < _source.Length && _source[end] == '.' && char.IsAsciiDigit(_source[end + 1]))
        {
            isFloat = true;
            end++;
            while (end < _source.Length && (char.IsAsciiDigit(_source[end]) || _source[end] == '_')) end++;
        }
        if (!afterDot && end < _source.Length && _source[end] is 'e' or 'E')
        {
            int e = end + 1;
            if (e < _source.Length && _source[e] is '+' or '-') e++;
            if (e < _source.Length && char.IsAsciiDigit(_source[e]))
            {
                isFloat = true;
                end = e;
                while (end < _source.Length && char.IsAsciiDigit(_source[end])) end++;
            }
        }
        string text = _source[start..end].Replace("_", "");
        if (isFloat) Add(TokenKind.Float, text, double.Parse(text, CultureInfo.InvariantCulture), start);
        else if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value)) Add(TokenKind.Integer, text, value, start);
        else throw Error($"the integer {text} is too large", start);
        Advance(end);
    }

    /// <summary>A quoted string with Python's escapes (\n, \t, \\, \', \", \xHH, \uHHHH, \UHHHHHHHH, octal); others stay as written.</summary>
    private void LexString(char quote)
    {
        int start = _pos;
        var text = new StringBuilder();
        int i = _pos + 1;
        while (true)
        {
            if (i >= _source.Length) throw Error("the string is never closed", start);
            char c = _source[i];
            if (c == quote) break;
            if (c != '\\' || i + 1 >= _source.Length)
            {
                text.Append(c);
                i++;
                continue;
            }
            char e = _source[i + 1];
            i += 2;
            switch (e)
            {
                case 'n': text.Append('\n'); break;
                case 't': text.Append('\t'); break;
                case 'r': text.Append('\r'); break;
                case 'b': text.Append('\b'); break;
                case 'f': text.Append('\f'); break;
                case 'v': text.Append('\v'); break;
                case 'a': text.Append('\a'); break;
                case '\\': text.Append('\\'); break;
                case '\'': text.Append('\''); break;
                case '"': text.Append('"'); break;
                case '\n': break;
                case 'x' or 'u' or 'U':
                    int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (i + digits > _source.Length || !int.TryParse(_source.AsSpan(i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code) || code > 0x10FFFF)
                        throw Error($"the string has a bad \\{e} escape", start);
                    text.Append(char.ConvertFromUtf32(code is >= 0xD800 and <= 0xDFFF ? 0xFFFD : code));
                    i += digits;
                    break;
                case >= '0' and <= '7':
                    int octal = e - '0';
                    for (int n = 0; n < 2 && i < _source.Length && _source[i] is >= '0' and <= '7'; n++, i++) octal = octal * 8 + (_source[i] - '0');
                    text.Append((char)octal);
                    break;
                default: text.Append('\\').Append(e); break;
            }
        }
        Add(TokenKind.String, text.ToString(), null, start);
        Advance(i + 1);
    }

    private bool Match(string text) => string.CompareOrdinal(_source, _pos, text, 0, text.Length) == 0;

    /// <summary>Moves to <paramref name="to"/>, counting lines on the way.</summary>
    private void Advance(int to)
    {
        for (int i = _pos; i < to; i++)
            if (_source[i] == '\n')
            {
                _line++;
                _lineStart = i + 1;
            }
        _pos = to;
    }

    private void Add(TokenKind kind, string value, object? number, int at) => _tokens.Add(new Token(kind, value, number, _line, at - _lineStart + 1));

    private TemplateException Error(string message, int at)
    {
        int line = 1, lineStart = 0;
        for (int i = 0; i < at && i < _source.Length; i++)
            if (_source[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        return new TemplateException(message, line, at - lineStart + 1);
    }

    /// <summary>Python's str.isspace characters as str.strip() drops them (ASCII and Unicode whitespace).</summary>
    internal static readonly char[] PyWhitespace =
        [' ', '\t', '\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\x1f', '\x85', '\xa0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005',
         '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];

    internal static bool IsPyWhitespace(char c) => Array.IndexOf(PyWhitespace, c) >= 0;
}
