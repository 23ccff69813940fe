namespace Tessera.Models.Serving.Tools;

/// <summary>
/// Llama 3.1's JSON format: the answer is the call itself, <c>{"name": "get_weather", "parameters": {"city": "Paris"}}</c>,
/// optionally after the <c>&lt;|python_tag|&gt;</c> token, several separated by <c>;</c>. Only an answer that begins so
/// is a call (vLLM's llama3_json parser reads it the same way).
/// </summary>
internal sealed class Llama3JsonToolCalls : ToolCallFormat
{
    private const string PythonTag = "<|python_tag|>";

    public override string Name => "llama3_json";

    public override IReadOnlyList<string> Markers => [PythonTag];

    public override int StartOf(string text)
    {
        int first = 0;
        while (first < text.Length && char.IsWhiteSpace(text[first])) first++;
        if (first == text.Length) return -1;
        return text[first] == '{' || text.AsSpan(first).StartsWith(PythonTag) ? first : -1;
    }

    /// <summary>Until the first visible character, the whole answer may still become a call.</summary>
    public override int PossibleStartLength(string text)
    {
        string rest = text.TrimStart();
        return rest.Length == 0 || PythonTag.StartsWith(rest, StringComparison.Ordinal) ? text.Length : 0;
    }

    public override ParsedAnswer Parse(string text)
    {
        int start = StartOf(text);
        if (start < 0) return ParsedAnswer.Text(text);
        string body = text[start..];
        if (body.StartsWith(PythonTag, StringComparison.Ordinal)) body = body[PythonTag.Length..];
        if (JsonValues(body, ';') is not { } values) return ParsedAnswer.Text(text);
        var calls = new List<ParsedToolCall>();
        foreach (var value in values)
            if (CallOf(value, "parameters", "arguments") is { } call) calls.Add(call);
            else return ParsedAnswer.Text(text);
        return new ParsedAnswer(null, calls);
    }
}
