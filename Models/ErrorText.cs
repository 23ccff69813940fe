namespace Tessera.Models;

/// <summary>How an exception's message is shown to a user: the CLI's `error:` line and the server's error bodies.</summary>
internal static class ErrorText
{
    /// <summary>
    /// The message on one line. ArgumentException appends " (Parameter 'name')" and ArgumentOutOfRangeException a second
    /// line "Actual value was ..."; both are dropped (the messages already name the value), other line breaks become spaces.
    /// </summary>
    internal static string OneLine(Exception e)
    {
        string message = e.Message;
        if (e is ArgumentOutOfRangeException { ActualValue: not null } && message.LastIndexOf(Environment.NewLine, StringComparison.Ordinal) is int end and >= 0)
            message = message[..end];
        if (e is ArgumentException { ParamName: { Length: > 0 } name } && message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal))
            message = message[..^$" (Parameter '{name}')".Length];
        return string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
