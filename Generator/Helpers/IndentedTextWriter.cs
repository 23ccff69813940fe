using System;
using System.Collections.Generic;
using System.Text;

namespace Tessera.Generator.Helpers;

/// <summary>
/// The one writer every emitter uses: indentation by four spaces, '\n' line endings, blocks that close themselves.
/// </summary>
internal sealed class IndentedTextWriter(int? width = LineWrapper.DefaultWidth)
{
    private readonly StringBuilder _builder = new();
    private readonly StringBuilder _line = new();
    private readonly Stack<int> _hanging = new();
    private int _indent;

    /// <summary>Writes a member of <typeparamref name="T"/>'s output; lists of these make a type's body a table of contents.</summary>
    public delegate void Callback<in T>(T info, IndentedTextWriter writer);

    public IndentedTextWriter Write(string text)
    {
        if (text.Length == 0) return this;
        if (_line.Length == 0) _line.Append(' ', _indent * 4);
        _line.Append(text);
        return this;
    }

    /// <summary>
    /// Ends the line. A line past the width is broken by <see cref="LineWrapper"/> (this writer's one rule for long
    /// lines); a call broken before a lambda's body indents that body, up to the end of its <see cref="WriteBlock"/>.
    /// </summary>
    public IndentedTextWriter WriteLine(string text = "")
    {
        if (text.Length > 0) Write(text);
        string line = _line.ToString();
        _line.Clear();
        bool hanging = false;
        var lines = width is int w ? LineWrapper.Wrap(line, w, out hanging) : [line];
        foreach (var wrapped in lines) _builder.Append(wrapped).Append('\n');
        if (hanging)
        {
            IncreaseIndent();
            _hanging.Push(_indent);
        }
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

    /// <summary>Writes <paramref name="body"/> inside <c>if (condition) { }</c>, or as it is where there is no condition.</summary>
    public void WriteIf(string? condition, Action body)
    {
        if (condition is null)
        {
            body();
            return;
        }
        using (WriteBlock($"if ({condition})")) body();
    }

    /// <summary>
    /// Writes the items in order, each run of consecutive items under the same condition (null: always) with one
    /// <see cref="WriteIf"/>: what only some layers run or load, in one block per run.
    /// </summary>
    public void WriteRunsIf<T>(IEnumerable<T> items, Func<T, string?> condition, Action<IReadOnlyList<T>> write)
    {
        var run = new List<T>();
        string? current = null;
        foreach (var item in items)
        {
            string? next = condition(item);
            if (run.Count > 0 && next != current)
            {
                var done = run;
                WriteIf(current, () => write(done));
                run = new List<T>();
            }
            current = next;
            run.Add(item);
        }
        if (run.Count > 0) WriteIf(current, () => write(run));
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

    /// <summary>After a block closes: the lambda body it was, if any, ends its call's extra indentation.</summary>
    private void EndHanging()
    {
        if (_hanging.Count == 0 || _hanging.Peek() != _indent) return;
        _hanging.Pop();
        DecreaseIndent();
    }

    public override string ToString() => _builder.ToString();

    public readonly struct Block(IndentedTextWriter writer, string closing) : IDisposable
    {
        public void Dispose()
        {
            writer.DecreaseIndent();
            writer.WriteLine("}" + closing);
            writer.EndHanging();
        }
    }
}
