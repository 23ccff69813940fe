using System;
using System.Collections.Generic;
using System.Text;

namespace Tessera.Generator.Helpers;

/// <summary>
/// The one writer every emitter uses: indentation by four spaces, '\n' line endings, blocks that close themselves.
/// </summary>
internal sealed class IndentedTextWriter
{
    private readonly StringBuilder _builder = new();
    private int _indent;
    private bool _atLineStart = true;

    /// <summary>Writes a member of <typeparamref name="T"/>'s output; lists of these make a type's body a table of contents.</summary>
    public delegate void Callback<in T>(T info, IndentedTextWriter writer);

    public IndentedTextWriter Write(string text)
    {
        if (text.Length == 0) return this;
        if (_atLineStart)
        {
            _builder.Append(' ', _indent * 4);
            _atLineStart = false;
        }
        _builder.Append(text);
        return this;
    }

    public IndentedTextWriter WriteLine(string text = "")
    {
        if (text.Length > 0) Write(text);
        _builder.Append('\n');
        _atLineStart = true;
        return this;
    }

    /// <summary>Writes every line of a multi-line text at the current indentation.</summary>
    public IndentedTextWriter WriteLines(string text)
    {
        foreach (var line in text.Replace("\r\n", "\n").Split('\n')) WriteLine(line);
        return this;
    }

    public void IncreaseIndent() => _indent++;

    public void DecreaseIndent() => _indent--;

    /// <summary>Writes "{" and indents; disposing the result writes the matching "}" (plus <paramref name="closing"/>).</summary>
    public Block WriteBlock(string? header = null, string closing = "")
    {
        if (header is not null) WriteLine(header);
        WriteLine("{");
        IncreaseIndent();
        return new Block(this, closing);
    }

    /// <summary>Writes each item with <paramref name="write"/>, a blank line between items.</summary>
    public void WriteSeparated<T>(IEnumerable<T> items, Action<T> write)
    {
        bool first = true;
        foreach (var item in items)
        {
            if (!first) WriteLine();
            first = false;
            write(item);
        }
    }

    public override string ToString() => _builder.ToString();

    public readonly struct Block(IndentedTextWriter writer, string closing) : IDisposable
    {
        public void Dispose()
        {
            writer.DecreaseIndent();
            writer.WriteLine("}" + closing);
        }
    }
}
