namespace Tessera.Text.Templates;

/// <summary>
/// A template that cannot be parsed or rendered: a syntax error, an unknown filter or test, an operation Python would
/// refuse (<c>'a' + 1</c>), an undefined value used as more than an empty string, a limit of <see cref="TemplateLimits"/>
/// passed, or the template's own <c>raise_exception(msg)</c>. The message is one line and names the line (and column
/// where known) of the template.
/// </summary>
public sealed class TemplateException : Exception
{
    public TemplateException(string message, int line = 0, int column = 0, bool raisedByTemplate = false)
        : base(OneLine(line > 0 ? $"{message} (template line {line}{(column > 0 ? $", column {column}" : "")})" : message))
    {
        Reason = message;
        Line = line;
        Column = column;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>Line breaks in quoted template text or a raise_exception message written as \n, so that the message is one line.</summary>
    private static string OneLine(string message) => message.Replace("\r", "\\r").Replace("\n", "\\n");

    /// <summary>The message without the position, as the template or the failure gave it (raise_exception's exactly).</summary>
    public string Reason { get; }

    /// <summary>1-based line of the template, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>1-based column, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>Whether the template itself refused the input with <c>raise_exception(msg)</c> (a bad conversation, not a bad template).</summary>
    public bool RaisedByTemplate { get; }
}
