using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Generation.Grammars;

/// <summary>
/// Tool calls as grammars: the JSON call object <c>{"name": "&lt;one of the tools&gt;", "&lt;arguments key&gt;": &lt;that tool's
/// parameters&gt;}</c>, one alternative per tool (so the arguments always match the named function), optionally between
/// literal text. Hermes/Qwen write <c>&lt;tool_call&gt;\n{"name": ..., "arguments": ...}\n&lt;/tool_call&gt;</c>
/// (<see cref="Hermes"/>); Llama 3.1 writes <c>{"name": ..., "parameters": ...}</c> (<see cref="Llama31"/>). Other
/// formats compose <see cref="Call"/> with <see cref="GrammarExpression"/>'s literals, sequences and alternatives.
/// </summary>
public static class ToolCallGrammar
{
    /// <summary>
    /// Adds the call object's rules to <paramref name="rules"/> and returns the expression matching one call of any of
    /// <paramref name="tools"/>. Each tool's parameters are compiled now (an unsupported schema throws here).
    /// </summary>
    public static GrammarExpression Call(GrammarBuilder rules, IReadOnlyList<ToolSchema> tools, string argumentsKey = "arguments")
    {
        if (tools.Count == 0) throw new ArgumentException("a tool call grammar needs at least one tool.", nameof(tools));
        if (tools.Select(t => t.Name).Distinct().Count() != tools.Count) throw new ArgumentException("tool names must be unique.", nameof(tools));
        return Either(tools.Select(tool =>
        {
            var arguments = tool.Parameters is { } schema ? JsonSchemaGrammar.Add(rules, schema) : JsonGrammar.Object(rules);
            return Seq(
                Exactly($"{{\"name\": {JsonSchemaGrammar.Serialize(tool.Name)}, {JsonSchemaGrammar.Serialize(argumentsKey)}: "),
                arguments,
                Exactly("}"));
        }));
    }

    /// <summary><paramref name="prefix"/>, one call, <paramref name="suffix"/>.</summary>
    public static Grammar Wrapped(IReadOnlyList<ToolSchema> tools, string prefix, string suffix, string argumentsKey = "arguments")
    {
        var rules = new GrammarBuilder();
        return rules.Build(Seq(Exactly(prefix), Call(rules, tools, argumentsKey), Exactly(suffix)));
    }

    /// <summary>Hermes/Qwen: <c>&lt;tool_call&gt;\n{"name": ..., "arguments": ...}\n&lt;/tool_call&gt;</c>.</summary>
    public static Grammar Hermes(IReadOnlyList<ToolSchema> tools) => Wrapped(tools, "<tool_call>\n", "\n</tool_call>");

    /// <summary>Llama 3.1's JSON tool call: <c>{"name": ..., "parameters": ...}</c>.</summary>
    public static Grammar Llama31(IReadOnlyList<ToolSchema> tools) => Wrapped(tools, "", "", "parameters");
}
