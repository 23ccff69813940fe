using System.Text;
using System.Text.Json;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// How a model family writes its tool calls into its output, and how to read them back: Hermes' <c>&lt;tool_call&gt;</c>
/// blocks (Qwen 2.5 and 3, Hermes), Llama 3.1's bare JSON, Mistral's <c>[TOOL_CALLS]</c>. The names are vLLM's
/// <c>--tool-call-parser</c> names. An output whose calls do not parse is all content, as vLLM answers it.
/// </summary>
internal abstract class ToolCallFormat
{
    private static readonly ToolCallFormat Hermes = new HermesToolCalls(), Llama3Json = new Llama3JsonToolCalls(), Mistral = new MistralToolCalls();

    /// <summary>Every format, by its name.</summary>
    public static IReadOnlyList<ToolCallFormat> All { get; } = [Hermes, Llama3Json, Mistral];

    /// <summary>The format a checkpoint's chat template teaches its model (by the markers it writes); Hermes when it shows none.</summary>
    public static ToolCallFormat ForTemplate(string? templateSource)
    {
        if (templateSource is null) return Hermes;
        if (templateSource.Contains("[TOOL_CALLS]", StringComparison.Ordinal)) return Mistral;
        if (templateSource.Contains("<tool_call>", StringComparison.Ordinal)) return Hermes;
        if (templateSource.Contains("<|python_tag|>", StringComparison.Ordinal) || templateSource.Contains("\"parameters\"", StringComparison.Ordinal)) return Llama3Json;
        return Hermes;
    }

    /// <summary>The format of a name (vLLM's), or null.</summary>
    public static ToolCallFormat? Named(string name) => All.FirstOrDefault(f => f.Name == name);

    /// <summary>vLLM's name for it: "hermes", "llama3_json", "mistral".</summary>
    public abstract string Name { get; }

    /// <summary>Special tokens whose text the parser needs (they are kept when the output is decoded for it).</summary>
    public virtual IReadOnlyList<string> Markers => [];

    /// <summary>Where the first call begins in <paramref name="text"/>, or -1 when none has begun.</summary>
    public abstract int StartOf(string text);

    /// <summary>
    /// How many characters at the end of <paramref name="text"/> (which holds no call start) could still become the
    /// start of one, and so are held back while streaming.
    /// </summary>
    public abstract int PossibleStartLength(string text);

    /// <summary>The content and calls of a whole answer.</summary>
    public abstract ParsedAnswer Parse(string text);

    /// <summary>The longest end of <paramref name="text"/> that is a proper beginning of <paramref name="marker"/>.</summary>
    protected static int PartialSuffix(string text, string marker)
    {
        for (int length = Math.Min(marker.Length - 1, text.Length); length > 0; length--)
            if (text.AsSpan(text.Length - length).SequenceEqual(marker.AsSpan(0, length))) return length;
        return 0;
    }

    /// <summary>
    /// A call object <c>{"name": ..., "&lt;argumentsKey&gt;": {...}}</c> (the arguments may also be a JSON string holding
    /// the object); null when it is not one.
    /// </summary>
    protected static ParsedToolCall? CallOf(JsonElement call, params string[] argumentKeys)
    {
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
            || string.IsNullOrEmpty(name.GetString()))
            return null;
        foreach (string key in argumentKeys)
        {
            if (!call.TryGetProperty(key, out var arguments)) continue;
            return ArgumentsOf(arguments) is string text ? new ParsedToolCall(name.GetString()!, text) : null;
        }
        return new ParsedToolCall(name.GetString()!, "{}");
    }

    /// <summary>Arguments as compact JSON text: an object, or a string that holds one.</summary>
    protected static string? ArgumentsOf(JsonElement arguments)
    {
        if (arguments.ValueKind == JsonValueKind.Object) return arguments.GetRawText();
        if (arguments.ValueKind != JsonValueKind.String) return null;
        try
        {
            using var inner = JsonDocument.Parse(arguments.GetString()!);
            return inner.RootElement.ValueKind == JsonValueKind.Object ? inner.RootElement.GetRawText() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Reads the JSON values written one after another (separated by whitespace or <paramref name="separator"/>); null when the text is not that.</summary>
    protected static List<JsonElement>? JsonValues(string text, char separator)
    {
        var values = new List<JsonElement>();
        var bytes = Encoding.UTF8.GetBytes(text);
        int offset = 0;
        while (true)
        {
            while (offset < bytes.Length && (bytes[offset] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' || bytes[offset] == separator)) offset++;
            if (offset == bytes.Length) return values.Count > 0 ? values : null;
            var reader = new Utf8JsonReader(bytes.AsSpan(offset), new JsonReaderOptions { AllowMultipleValues = true, MaxDepth = 64 });
            try
            {
                if (!JsonDocument.TryParseValue(ref reader, out var document)) return null;
                using (document) values.Add(document.RootElement.Clone());
            }
            catch (JsonException)
            {
                return null;
            }
            offset += (int)reader.BytesConsumed;
        }
    }

    /// <summary>Text that is only whitespace is no content.</summary>
    protected static string? ContentOf(string text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}
