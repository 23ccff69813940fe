using System.Text.Json;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// Mistral's format: the <c>[TOOL_CALLS]</c> token, then either a JSON array of calls
/// (<c>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</c>, tokenizers before v11) or, from v11 on, each call
/// as <c>name[ARGS]{...}</c> after its own <c>[TOOL_CALLS]</c>. Text before the first marker is content.
/// </summary>
internal sealed class MistralToolCalls : ToolCallFormat
{
    private const string Marker = "[TOOL_CALLS]", ArgsMarker = "[ARGS]";

    public override string Name => "mistral";

    public override IReadOnlyList<string> Markers => [Marker, ArgsMarker];

    public override int StartOf(string text) => text.IndexOf(Marker, StringComparison.Ordinal);

    public override int PossibleStartLength(string text) => PartialSuffix(text, Marker);

    public override ParsedAnswer Parse(string text)
    {
        int start = StartOf(text);
        if (start < 0) return ParsedAnswer.Text(text);
        var calls = new List<ParsedToolCall>();
        foreach (string part in text[(start + Marker.Length)..].Split(Marker))
        {
            if (ReadPart(part.Trim(), calls)) continue;
            return ParsedAnswer.Text(text);
        }
        return calls.Count > 0 ? new ParsedAnswer(ContentOf(text[..start]), calls) : ParsedAnswer.Text(text);
    }

    /// <summary>One marker's calls: a JSON array (or object) of calls, or <c>name[ARGS]{...}</c>.</summary>
    private static bool ReadPart(string part, List<ParsedToolCall> calls)
    {
        int args = part.IndexOf(ArgsMarker, StringComparison.Ordinal);
        if (args > 0 && !part.StartsWith('[') && !part.StartsWith('{'))
        {
            if (JsonValues(part[(args + ArgsMarker.Length)..], ' ') is not [var arguments] || ArgumentsOf(arguments) is not { } text) return false;
            calls.Add(new ParsedToolCall(part[..args].Trim(), text));
            return true;
        }
        if (JsonValues(part, ' ') is not [var value]) return false;
        var items = value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().ToList() : [value];
        foreach (var item in items)
            if (CallOf(item, "arguments", "parameters") is { } call) calls.Add(call);
            else return false;
        return items.Count > 0;
    }
}
