using System.Text;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// Splits a streamed answer into what may be shown as content now and the calls: text is passed on as it comes,
/// except an end that could begin a call (held back until it is known); once a call has begun, the rest is kept and
/// read when the answer ends. <see cref="Finish"/> gives the calls, and the content still to show when the answer
/// had none after all. One instance per streamed choice.
/// </summary>
internal sealed class ToolCallStream(ToolCallFormat format)
{
    private readonly StringBuilder _text = new();
    private int _shown;
    private bool _inCall;

    /// <summary>Adds the next piece of the answer; returns the content that may be shown now (often empty).</summary>
    public string Push(string piece)
    {
        _text.Append(piece);
        if (_inCall) return "";
        string text = _text.ToString();
        int start = format.StartOf(text);
        int end = start >= 0 ? start : text.Length - format.PossibleStartLength(text);
        _inCall = start >= 0;
        // Whitespace just before a call is not content (a whole answer's content is read trimmed too).
        if (_inCall && string.IsNullOrWhiteSpace(text[Math.Min(_shown, end)..end])) end = _shown;
        if (end <= _shown) return "";
        string shown = text[_shown..end];
        _shown = end;
        return shown;
    }

    /// <summary>The answer's calls, and the content not yet shown (what was held back, or all of a call that did not parse).</summary>
    public (string Remaining, IReadOnlyList<ParsedToolCall> Calls) Finish()
    {
        string text = _text.ToString();
        var answer = format.Parse(text);
        string rest = answer.Calls.Count > 0 ? "" : text[_shown..];
        _shown = text.Length;
        return (rest, answer.Calls);
    }
}
