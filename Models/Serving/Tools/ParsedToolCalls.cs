namespace Tessera.Models.Serving.Tools;

/// <summary>A function call read from the model's output: the function's name and its arguments as a JSON object's text.</summary>
internal sealed record ParsedToolCall(string Name, string Arguments);

/// <summary>What one answer says: the text outside its calls (null when there is none) and the calls, in order.</summary>
internal sealed record ParsedAnswer(string? Content, IReadOnlyList<ParsedToolCall> Calls)
{
    /// <summary>An answer with no calls: all of it is content.</summary>
    public static ParsedAnswer Text(string text) => new(text, []);
}
