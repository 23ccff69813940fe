using System.Text.Encodings.Web;
using System.Text.Json;
using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Generation.Grammars;

/// <summary>
/// A JSON Schema as grammar rules, for the subset OpenAI's strict structured outputs accept. Supported: <c>type</c>
/// (object, array, string, number, integer, boolean, null, or an array of them), <c>properties</c> (written in the
/// schema's order; names not in <c>required</c> may be left out), <c>required</c>, <c>additionalProperties</c> (false;
/// true or absent also only ever yields the declared properties; a schema only on an object without properties, as a
/// map), <c>items</c>, <c>minItems</c>/<c>maxItems</c> (up to <see cref="MaxItemsLimit"/>), <c>enum</c>, <c>const</c>,
/// <c>anyOf</c>, <c>$ref</c> to any JSON pointer in the document ("#", "#/$defs/x", "#/definitions/x"; recursion
/// allowed). Ignored, as annotations or as not enforced: <c>pattern</c> and <c>format</c> (any string is produced), and
/// title, description, default, examples, $schema, $id, $comment, deprecated, readOnly, writeOnly. Any other keyword
/// (minimum, oneOf, allOf, minLength, prefixItems, ...) is refused with an <see cref="UnsupportedSchemaException"/>
/// naming it, when the schema is compiled. Layout and number bounds are <see cref="JsonGrammar"/>'s.
/// </summary>
public static class JsonSchemaGrammar
{
    /// <summary>The largest maxItems enforced (each allowed item count costs a grammar rule).</summary>
    public const int MaxItemsLimit = 1024;

    /// <summary>The grammar of the JSON texts valid under <paramref name="schema"/>.</summary>
    public static Grammar Compile(JsonElement schema)
    {
        var rules = new GrammarBuilder();
        return rules.Build(Add(rules, schema));
    }

    /// <summary>
    /// Adds the rules of <paramref name="schema"/> to <paramref name="rules"/> (under fresh names: several schemas can
    /// share a builder) and returns the expression matching its JSON texts, to be composed with other expressions.
    /// </summary>
    public static GrammarExpression Add(GrammarBuilder rules, JsonElement schema) => new Compiler(rules, schema).Compile(schema, "");

    /// <summary>A value as JSON text, compact, non-ASCII characters as themselves: what an enum or const must produce.</summary>
    internal static string Serialize(JsonElement value) => JsonSerializer.Serialize(value, JsonOptions);

    internal static string Serialize(string value) => JsonSerializer.Serialize(value, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly HashSet<string> Ignored =
        ["title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly", "pattern", "format"];

    private static readonly HashSet<string> Supported =
        ["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const", "anyOf", "$ref", "$defs", "definitions"];

    private sealed class Compiler(GrammarBuilder rules, JsonElement root)
    {
        private readonly string _prefix = rules.FreshName("schema");
        private readonly Dictionary<string, GrammarExpression> _references = [];

        public GrammarExpression Compile(JsonElement schema, string pointer)
        {
            if (schema.ValueKind == JsonValueKind.True) return JsonGrammar.Value(rules);
            if (schema.ValueKind == JsonValueKind.False) throw new UnsupportedSchemaException("false", pointer, "allows no value at all.");
            if (schema.ValueKind != JsonValueKind.Object)
                throw new UnsupportedSchemaException(schema.ValueKind.ToString(), pointer, "is not a schema (a schema is an object or a boolean).");
            foreach (var keyword in schema.EnumerateObject())
                if (!Supported.Contains(keyword.Name) && !Ignored.Contains(keyword.Name))
                    throw new UnsupportedSchemaException(keyword.Name, pointer, "is not supported by constrained decoding.");

            if (schema.TryGetProperty("$ref", out var reference))
            {
                Alone(schema, pointer, "$ref");
                return Reference(reference, pointer + "/$ref");
            }
            if (schema.TryGetProperty("const", out var constant))
            {
                Alone(schema, pointer, "const", "type");
                return Exactly(Serialize(constant));
            }
            if (schema.TryGetProperty("enum", out var values))
            {
                Alone(schema, pointer, "enum", "type");
                if (values.ValueKind != JsonValueKind.Array || values.GetArrayLength() == 0)
                    throw new UnsupportedSchemaException("enum", pointer, "must be a non-empty array.");
                return Either(values.EnumerateArray().Select(v => Exactly(Serialize(v))).Distinct());
            }
            if (schema.TryGetProperty("anyOf", out var anyOf))
            {
                Alone(schema, pointer, "anyOf");
                if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
                    throw new UnsupportedSchemaException("anyOf", pointer, "must be a non-empty array of schemas.");
                return Either(anyOf.EnumerateArray().Select((s, i) => Compile(s, $"{pointer}/anyOf/{i}")));
            }
            if (!schema.TryGetProperty("type", out var type))
            {
                // No type: what the type-specific keywords present imply, else any value.
                if (schema.TryGetProperty("properties", out _) || schema.TryGetProperty("additionalProperties", out _)) return Object(schema, pointer);
                if (schema.TryGetProperty("items", out _)) return Array(schema, pointer);
                return JsonGrammar.Value(rules);
            }
            var types = type.ValueKind switch
            {
                JsonValueKind.String => [type.GetString()!],
                JsonValueKind.Array when type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                    type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToList(),
                _ => throw new UnsupportedSchemaException("type", pointer, "must be a type name or a non-empty array of them."),
            };
            return Either(types.Select(t => OfType(t, schema, pointer)));
        }

        private GrammarExpression OfType(string type, JsonElement schema, string pointer) => type switch
        {
            "object" => Object(schema, pointer),
            "array" => Array(schema, pointer),
            "string" => JsonGrammar.String(rules),
            "number" => JsonGrammar.Number(rules),
            "integer" => JsonGrammar.Integer(rules),
            "boolean" => Either(Exactly("true"), Exactly("false")),
            "null" => Exactly("null"),
            _ => throw new UnsupportedSchemaException("type", pointer, $"names an unknown type \"{type}\"."),
        };

        private GrammarExpression Object(JsonElement schema, string pointer)
        {
            var properties = new List<(string Name, JsonElement Schema)>();
            if (schema.TryGetProperty("properties", out var declared))
            {
                if (declared.ValueKind != JsonValueKind.Object) throw new UnsupportedSchemaException("properties", pointer, "must be an object.");
                properties.AddRange(declared.EnumerateObject().Select(p => (p.Name, p.Value)));
            }
            var required = new HashSet<string>();
            if (schema.TryGetProperty("required", out var names))
            {
                if (names.ValueKind != JsonValueKind.Array || names.EnumerateArray().Any(n => n.ValueKind != JsonValueKind.String))
                    throw new UnsupportedSchemaException("required", pointer, "must be an array of property names.");
                foreach (var entry in names.EnumerateArray())
                {
                    if (!properties.Any(p => p.Name == entry.GetString()))
                        throw new UnsupportedSchemaException("required", pointer, $"names \"{entry.GetString()}\", which is not in properties.");
                    required.Add(entry.GetString()!);
                }
            }
            var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
            if (additional.ValueKind == JsonValueKind.Object)
            {
                if (properties.Count > 0)
                    throw new UnsupportedSchemaException("additionalProperties", pointer, "as a schema is supported only on an object without properties.");
                var member = Seq(JsonGrammar.String(rules), Exactly(":"), JsonGrammar.Space, Compile(additional, pointer + "/additionalProperties"));
                return Seq(Exactly("{"), Optional(Seq(member, ZeroOrMore(Seq(Exactly(","), JsonGrammar.Space, member)))), Exactly("}"));
            }
            if (additional.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.True or JsonValueKind.False))
                throw new UnsupportedSchemaException("additionalProperties", pointer, "must be a boolean or a schema.");
            if (properties.Count == 0)
                return additional.ValueKind == JsonValueKind.False ? Exactly("{}") : JsonGrammar.Object(rules);

            // first_i: properties i.. with none written yet; rest_i: properties i.. after one was written (each with
            // its leading comma). Optional properties may be skipped; the schema's order is kept.
            string name = rules.FreshName(_prefix + "-object");
            rules.Declare(name);
            GrammarExpression first = Empty, rest = Empty;
            for (int i = properties.Count - 1; i >= 0; i--)
            {
                var (key, value) = properties[i];
                var member = Seq(Exactly(Serialize(key) + ":"), JsonGrammar.Space, Compile(value, $"{pointer}/properties/{Escape(key)}"));
                var withComma = Seq(Exactly(","), JsonGrammar.Space, member, rest);
                var start = Seq(member, rest);
                bool optional = !required.Contains(key);
                var nextRest = optional ? Either(withComma, rest) : withComma;
                var nextFirst = optional ? Either(start, first) : start;
                rest = rules.Define($"{name}-rest{i}", nextRest);
                first = rules.Define($"{name}-first{i}", nextFirst);
            }
            return rules.Define(name, Seq(Exactly("{"), first, Exactly("}")));
        }

        private GrammarExpression Array(JsonElement schema, string pointer)
        {
            var item = schema.TryGetProperty("items", out var items) ? Compile(items, pointer + "/items") : JsonGrammar.Value(rules);
            int min = Count(schema, "minItems", pointer) ?? 0;
            int? max = Count(schema, "maxItems", pointer);
            if (max < min) throw new UnsupportedSchemaException("maxItems", pointer, $"is below minItems ({max} < {min}).");
            if (Math.Max(min, max ?? 0) > MaxItemsLimit)
                throw new UnsupportedSchemaException(max > MaxItemsLimit ? "maxItems" : "minItems", pointer, $"above {MaxItemsLimit} is not supported.");
            return JsonGrammar.ArrayOf(item, min, max);
        }

        private static int? Count(JsonElement schema, string keyword, string pointer)
        {
            if (!schema.TryGetProperty(keyword, out var value)) return null;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int count) || count < 0)
                throw new UnsupportedSchemaException(keyword, pointer, "must be a non-negative integer.");
            return count;
        }

        /// <summary>A rule per referenced location, declared before its body is compiled, so references may recurse.</summary>
        private GrammarExpression Reference(JsonElement reference, string pointer)
        {
            string? target = reference.ValueKind == JsonValueKind.String ? reference.GetString() : null;
            if (target is null || !target.StartsWith('#'))
                throw new UnsupportedSchemaException("$ref", pointer, $"must point into this schema (\"#\", \"#/$defs/name\"); got {reference.GetRawText()}.");
            if (_references.TryGetValue(target, out var known)) return known;
            var schema = Resolve(target[1..], pointer);
            string name = rules.FreshName($"{_prefix}-ref{_references.Count}");
            var rule = rules.Declare(name);
            _references[target] = rule;
            rules.Define(name, Compile(schema, target[1..]));
            return rule;
        }

        private JsonElement Resolve(string target, string pointer)
        {
            var node = root;
            foreach (string raw in target.Split('/').Skip(1))
            {
                string segment = raw.Replace("~1", "/").Replace("~0", "~");
                bool found = node.ValueKind switch
                {
                    JsonValueKind.Object => node.TryGetProperty(segment, out node),
                    JsonValueKind.Array => int.TryParse(segment, out int i) && i >= 0 && i < node.GetArrayLength() && (node = node[i]).ValueKind != JsonValueKind.Undefined,
                    _ => false,
                };
                if (!found) throw new UnsupportedSchemaException("$ref", pointer, $"points to \"#{target}\", which is not in the schema.");
            }
            return node;
        }

        /// <summary>Refuses keywords beside <paramref name="keyword"/> that it would silently override.</summary>
        private static void Alone(JsonElement schema, string pointer, string keyword, params string[] allowed)
        {
            foreach (var other in schema.EnumerateObject())
                if (other.Name != keyword && !Ignored.Contains(other.Name) && other.Name is not ("$defs" or "definitions") && !allowed.Contains(other.Name))
                    throw new UnsupportedSchemaException(other.Name, pointer, $"beside '{keyword}' is not supported.");
        }

        private static string Escape(string key) => key.Replace("~", "~0").Replace("/", "~1");
    }
}
