using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Text;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// One chat choice's answer as OpenAI returns it: text, or content and tool calls read from the model's output by the
/// request's <see cref="ChatPrompt.Calls"/> format, with finish_reason "tool_calls" when it called (a function that
/// tool_choice named ends with "stop", as OpenAI's do). Streamed, content is shown as it comes and the calls, each whole,
/// just before the finish. Where the format's markers are special tokens of the vocabulary (Llama 3's
/// <c>&lt;|python_tag|&gt;</c>, Mistral's <c>[TOOL_CALLS]</c>) the output is decoded with those kept. One per choice.
/// </summary>
internal sealed class ChatAnswer
{
    private readonly ChatPrompt _prompt;
    private readonly ITokenizer _tokenizer;
    private readonly IReadOnlySet<int> _markers;
    private readonly ToolCallStream? _stream;
    private readonly StreamingDecoder? _markedDecoder;

    public ChatAnswer(ChatPrompt prompt, IReadOnlySet<int> markers, ITokenizer tokenizer)
    {
        _prompt = prompt;
        _tokenizer = tokenizer;
        _markers = markers;
        if (prompt.Calls is { } calls)
        {
            _stream = new ToolCallStream(calls);
            if (markers.Count > 0) _markedDecoder = new StreamingDecoder(tokenizer, skipSpecialTokens: false);
        }
    }

    /// <summary>The whole answer: its content (null when it only calls), its calls (null when none) and finish_reason.</summary>
    public (string? Content, ToolCall[]? Calls, string FinishReason) Read(GenerationOutput output)
    {
        string finish = OpenAiFormat.FinishReasonOf(output.FinishReason);
        if (_prompt.Calls is not { } format) return (output.Text, null, finish);
        string text = _markers.Count == 0 ? output.Text : _tokenizer.Decode(Marked(output.Tokens), skipSpecialTokens: false);
        var answer = format.Parse(text);
        if (answer.Calls.Count == 0) return (output.Text, null, finish);
        return (answer.Content, ToolCalls(answer.Calls), _prompt.NamedFunction ? "stop" : "tool_calls");
    }

    /// <summary>The content one streamed token lets show now (held back while it may begin a call).</summary>
    public string Push(GeneratedToken token)
    {
        if (_stream is null) return token.Text;
        if (_markedDecoder is null) return _stream.Push(token.Text);
        return _stream.Push(IsShown(token.Id) ? _markedDecoder.Add(token.Id) : "");
    }

    /// <summary>At the end of a stream: the content still held back (when there was no call after all) and the calls.</summary>
    public (string Remaining, ToolCallDelta[] Calls) Finish()
    {
        if (_stream is null) return ("", []);
        if (_markedDecoder is not null) _stream.Push(_markedDecoder.Flush());
        var (remaining, calls) = _stream.Finish();
        var whole = ToolCalls(calls);
        return (remaining, whole.Select((c, i) => new ToolCallDelta(i, c.Id!, "function", c.Function!)).ToArray());
    }

    /// <summary>finish_reason of a stream that ended for <paramref name="reason"/> with <paramref name="called"/> calls.</summary>
    public string FinishReason(FinishReason reason, bool called) =>
        called ? _prompt.NamedFunction ? "stop" : "tool_calls" : OpenAiFormat.FinishReasonOf(reason);

    private int[] Marked(int[] ids) => ids.Where(IsShown).ToArray();

    /// <summary>Ordinary tokens, and the special ones that are the format's markers.</summary>
    private bool IsShown(int id) => !_tokenizer.IsSpecial(id) || _markers.Contains(id);

    private static ToolCall[] ToolCalls(IReadOnlyList<ParsedToolCall> calls) =>
        calls.Select(c => new ToolCall($"call_{Guid.NewGuid():N}"[..29], "function", new FunctionCall(c.Name, c.Arguments))).ToArray();
}
