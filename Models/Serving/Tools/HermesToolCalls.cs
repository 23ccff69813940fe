using System.Text.Json;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// Hermes' format (Qwen 2.5 and 3, NousResearch Hermes): each call is a JSON object in its own block,
/// <c>&lt;tool_call&gt;\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n&lt;/tool_call&gt;</c>; text before
/// the first block is content. A last block the model did not close (it stopped at its end token) still counts.
/// </summary>
internal sealed class HermesToolCalls : ToolCallFormat
{
    private const string Open = "<tool_call>", Close = "</tool_call>";

    public override string Name => "hermes";

    public override IReadOnlyList<string> Markers => [Open, Close];

    public override int StartOf(string text) => text.IndexOf(Open, StringComparison.Ordinal);

    public override int PossibleStartLength(string text) => PartialSuffix(text, Open);

    public override ParsedAnswer Parse(string text)
    {
        int start = StartOf(text);
        if (start < 0) return ParsedAnswer.Text(text);
        var calls = new List<ParsedToolCall>();
        for (int at = start; at >= 0 && at < text.Length;)
        {
            int body = at + Open.Length;
            int end = text.IndexOf(Close, body, StringComparison.Ordinal);
            string json = end < 0 ? text[body..] : text[body..end];
            if (JsonValues(json, ' ') is not [var value] || CallOf(value, "arguments", "parameters") is not { } call) return ParsedAnswer.Text(text);
            calls.Add(call);
            if (end < 0) break;
            int next = text.IndexOf(Open, end + Close.Length, StringComparison.Ordinal);
            // Only whitespace may stand between blocks; other text after the calls is dropped, as vLLM drops it.
            if (next < 0 || !string.IsNullOrWhiteSpace(text[(end + Close.Length)..next])) break;
            at = next;
        }
        return new ParsedAnswer(ContentOf(text[..start]), calls);
    }
}
