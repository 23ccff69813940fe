using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace Tessera.Generator.FrontEnd;

/// <summary>
/// A small JSON reader for config files at build time (the generator targets netstandard2.0 and carries no
/// dependencies). Objects become dictionaries, numbers doubles, and null stays null.
/// </summary>
internal sealed class JsonReader
{
    private readonly string _text;
    private int _position;

    private JsonReader(string text) => _text = text;

    public static bool TryParseObject(string text, out Dictionary<string, object?>? result, out string? error)
    {
        var reader = new JsonReader(text);
        try
        {
            reader.SkipSpaces();
            if (reader.Value() is not Dictionary<string, object?> obj)
                throw reader.Error("expected a JSON object at the top level");
            reader.SkipSpaces();
            if (reader._position != text.Length) throw reader.Error("unexpected text after the object");
            result = obj;
            error = null;
            return true;
        }
        catch (FormatException e)
        {
            result = null;
            error = e.Message;
            return false;
        }
    }

    /// <summary>A value this reader returned, as compact JSON text (numbers round-trip; keys in their order).</summary>
    public static string Write(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string text => Quote(text),
        Dictionary<string, object?> obj => "{" + string.Join(",", obj.Select(p => Quote(p.Key) + ":" + Write(p.Value))) + "}",
        List<object?> list => "[" + string.Join(",", list.Select(Write)) + "]",
        _ => throw new ArgumentException($"not a JSON value: {value.GetType().Name}", nameof(value)),
    };

    private static string Quote(string text)
    {
        var builder = new StringBuilder("\"");
        foreach (char c in text)
        {
            if (c is '"' or '\\') builder.Append('\\').Append(c);
            else if (c < ' ') builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            else builder.Append(c);
        }
        return builder.Append('"').ToString();
    }

    private object? Value()
    {
        SkipSpaces();
        if (_position >= _text.Length) throw Error("unexpected end of file");
        char c = _text[_position];
        switch (c)
        {
            case '{': return Object();
            case '[': return Array();
            case '"': return String();
            case 't': Expect("true"); return true;
            case 'f': Expect("false"); return false;
            case 'n': Expect("null"); return null;
            default:
                if (c == '-' || char.IsDigit(c)) return Number();
                throw Error($"unexpected '{c}'");
        }
    }

    private Dictionary<string, object?> Object()
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        _position++;
        SkipSpaces();
        if (Peek('}')) { _position++; return result; }
        while (true)
        {
            SkipSpaces();
            if (!Peek('"')) throw Error("expected a property name");
            string key = String();
            SkipSpaces();
            if (!Peek(':')) throw Error("expected ':'");
            _position++;
            result[key] = Value();
            SkipSpaces();
            if (Peek(',')) { _position++; continue; }
            if (Peek('}')) { _position++; return result; }
            throw Error("expected ',' or '}'");
        }
    }

    private List<object?> Array()
    {
        var result = new List<object?>();
        _position++;
        SkipSpaces();
        if (Peek(']')) { _position++; return result; }
        while (true)
        {
            result.Add(Value());
            SkipSpaces();
            if (Peek(',')) { _position++; continue; }
            if (Peek(']')) { _position++; return result; }
            throw Error("expected ',' or ']'");
        }
    }

    private string String()
    {
        var builder = new StringBuilder();
        _position++;
        while (_position < _text.Length)
        {
            char c = _text[_position++];
            if (c == '"') return builder.ToString();
            if (c != '\\') { builder.Append(c); continue; }
            if (_position >= _text.Length) break;
            char e = _text[_position++];
            switch (e)
            {
                case 'n': builder.Append('\n'); break;
                case 't': builder.Append('\t'); break;
                case 'r': builder.Append('\r'); break;
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'u':
                    if (_position + 4 > _text.Length) throw Error("bad \\u escape");
                    builder.Append((char)int.Parse(_text.Substring(_position, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _position += 4;
                    break;
                default: builder.Append(e); break;
            }
        }
        throw Error("unterminated string");
    }

    private double Number()
    {
        int start = _position;
        while (_position < _text.Length && "+-0123456789.eE".IndexOf(_text[_position]) >= 0) _position++;
        string s = _text.Substring(start, _position - start);
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) throw Error($"'{s}' is not a number");
        return v;
    }

    private void Expect(string word)
    {
        if (string.CompareOrdinal(_text, _position, word, 0, word.Length) != 0) throw Error($"expected '{word}'");
        _position += word.Length;
    }

    private bool Peek(char c) => _position < _text.Length && _text[_position] == c;

    private void SkipSpaces()
    {
        while (_position < _text.Length && char.IsWhiteSpace(_text[_position])) _position++;
    }

    private FormatException Error(string message)
    {
        int line = 1, column = 1;
        for (int i = 0; i < _position && i < _text.Length; i++)
        {
            if (_text[i] == '\n') { line++; column = 1; } else column++;
        }
        return new FormatException($"{message} at line {line}, column {column}");
    }
}
