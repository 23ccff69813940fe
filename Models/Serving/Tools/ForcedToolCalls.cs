using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Models.Serving.Contracts;

namespace Tessera.Models.Serving.Tools;

/// <summary>
/// The answer when tool_choice forces calls (as vLLM serves it): decoding is constrained to a JSON Schema, so the whole
/// answer is the calls. For one named function the answer is that function's arguments object; for "required" it is a
/// non-empty array of <c>{"name": ..., "parameters": {...}}</c> (one item when parallel_tool_calls is false).
/// </summary>
internal sealed class ForcedToolCalls : ToolCallFormat
{
    private readonly string? _function;

    private ForcedToolCalls(string? function, JsonObject schema)
    {
        _function = function;
        Schema = schema;
    }

    /// <summary>The answer is the arguments of <paramref name="function"/>.</summary>
    public static ForcedToolCalls Named(FunctionDefinition function) => new(function.Name, ParametersOf(function));

    /// <summary>The answer is one call or more of the declared functions.</summary>
    public static ForcedToolCalls Required(IEnumerable<FunctionDefinition> functions, bool parallel)
    {
        var choices = new JsonArray();
        foreach (var function in functions)
            choices.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject { ["name"] = new JsonObject { ["const"] = function.Name }, ["parameters"] = ParametersOf(function) },
                ["required"] = new JsonArray("name", "parameters"),
                ["additionalProperties"] = false,
            });
        var schema = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["anyOf"] = choices }, ["minItems"] = 1 };
        if (!parallel) schema["maxItems"] = 1;
        return new ForcedToolCalls(null, schema);
    }

    /// <summary>The JSON Schema decoding is held to.</summary>
    public JsonObject Schema { get; }

    /// <summary><see cref="Schema"/> as a JSON element.</summary>
    public JsonElement SchemaElement
    {
        get
        {
            using var document = JsonDocument.Parse(Schema.ToJsonString());
            return document.RootElement.Clone();
        }
    }

    public override string Name => "forced";

    public override int StartOf(string text) => 0;

    public override int PossibleStartLength(string text) => text.Length;

    public override ParsedAnswer Parse(string text)
    {
        if (JsonValues(text, ' ') is not [var value]) return ParsedAnswer.Text(text);
        if (_function is not null)
            return value.ValueKind == JsonValueKind.Object ? new ParsedAnswer(null, [new ParsedToolCall(_function, value.GetRawText())]) : ParsedAnswer.Text(text);
        if (value.ValueKind != JsonValueKind.Array) return ParsedAnswer.Text(text);
        var calls = new List<ParsedToolCall>();
        foreach (var item in value.EnumerateArray())
            if (CallOf(item, "parameters") is { } call) calls.Add(call);
            else return ParsedAnswer.Text(text);
        return calls.Count > 0 ? new ParsedAnswer(null, calls) : ParsedAnswer.Text(text);
    }

    /// <summary>A function's parameters schema; a function that declares none takes an empty object.</summary>
    private static JsonObject ParametersOf(FunctionDefinition function) => function.Parameters is { } parameters
        ? JsonNode.Parse(parameters.GetRawText())!.AsObject()
        : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject(), ["additionalProperties"] = false };
}
