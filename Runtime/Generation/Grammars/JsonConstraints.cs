using System.Text.Json;
using Tessera.Text;

namespace Tessera.Generation.Grammars;

/// <summary>What the server calls for OpenAI's <c>response_format</c>.</summary>
public static class JsonConstraints
{
    /// <summary>
    /// The constraint factory for a response format: <c>{"type":"json_object"}</c> is a null <paramref name="schema"/>
    /// (the output is one JSON object); <c>{"type":"json_schema","json_schema":{"schema":...}}</c> passes the schema.
    /// The schema is compiled now: an unsupported one throws an <see cref="UnsupportedSchemaException"/> (an
    /// <see cref="ArgumentException"/>) here, at request time.
    /// </summary>
    /// <param name="schema">The JSON schema, or null for any JSON object.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="stopTokens">The ids that end generation (the request's stop tokens); null: the tokenizer's end-of-sequence ids.</param>
    public static Func<ITokenConstraint> ForResponseFormat(JsonElement? schema, ITokenizer tokenizer, IReadOnlyList<int>? stopTokens = null) =>
        GrammarConstraint.Factory(ResponseFormatGrammar(schema), tokenizer, stopTokens);

    /// <summary>The grammar of a response format (see <see cref="ForResponseFormat"/>).</summary>
    public static Grammar ResponseFormatGrammar(JsonElement? schema) =>
        schema is { } s ? JsonSchemaGrammar.Compile(s) : JsonGrammar.AnyObject();
}
