using System.Text.Json;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>
/// An independent check that a JSON value is valid under a schema of the subset the grammar compiler supports (type,
/// properties/required/additionalProperties, items/minItems/maxItems, enum, const, anyOf, $ref into the document),
/// and that an object's properties come in the schema's order. Returns why not, or null.
/// </summary>
internal static class SchemaConformance
{
    public static string? Check(JsonElement value, JsonElement schema) => Check(value, schema, schema, "$");

    private static string? Check(JsonElement value, JsonElement schema, JsonElement root, string at)
    {
        if (schema.ValueKind == JsonValueKind.True) return null;
        if (schema.TryGetProperty("$ref", out var reference))
        {
            var target = root;
            foreach (string segment in reference.GetString()![1..].Split('/').Skip(1)) target = target.GetProperty(segment);
            return Check(value, target, root, at);
        }
        if (schema.TryGetProperty("const", out var constant))
            return JsonElement.DeepEquals(value, constant) ? null : $"{at}: {value} is not the const {constant}";
        if (schema.TryGetProperty("enum", out var values))
            return values.EnumerateArray().Any(v => JsonElement.DeepEquals(v, value)) ? null : $"{at}: {value} is not in the enum";
        if (schema.TryGetProperty("anyOf", out var anyOf))
            return anyOf.EnumerateArray().Any(s => Check(value, s, root, at) is null) ? null : $"{at}: {value} matches no anyOf branch";
        if (!schema.TryGetProperty("type", out var type)) return null;
        var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray() : [type.GetString()!];
        var reasons = types.Select(t => CheckType(value, t, schema, root, at)).ToList();
        return reasons.Any(r => r is null) ? null : string.Join("; ", reasons);
    }

    private static string? CheckType(JsonElement value, string type, JsonElement schema, JsonElement root, string at)
    {
        switch (type)
        {
            case "null": return value.ValueKind == JsonValueKind.Null ? null : $"{at}: not null";
            case "boolean": return value.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : $"{at}: not a boolean";
            case "string": return value.ValueKind == JsonValueKind.String ? null : $"{at}: not a string";
            case "number": return value.ValueKind == JsonValueKind.Number ? null : $"{at}: not a number";
            case "integer": return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _) && !value.GetRawText().Contains('.') ? null : $"{at}: not an integer";
            case "array":
                if (value.ValueKind != JsonValueKind.Array) return $"{at}: not an array";
                int count = value.GetArrayLength();
                if (schema.TryGetProperty("minItems", out var min) && count < min.GetInt32()) return $"{at}: fewer than minItems";
                if (schema.TryGetProperty("maxItems", out var max) && count > max.GetInt32()) return $"{at}: more than maxItems";
                if (!schema.TryGetProperty("items", out var items)) return null;
                return value.EnumerateArray().Select((v, i) => Check(v, items, root, $"{at}[{i}]")).FirstOrDefault(r => r is not null);
            case "object":
                if (value.ValueKind != JsonValueKind.Object) return $"{at}: not an object";
                var declared = schema.TryGetProperty("properties", out var p) ? p.EnumerateObject().Select(x => x.Name).ToList() : [];
                var present = value.EnumerateObject().Select(x => x.Name).ToList();
                if (schema.TryGetProperty("required", out var required))
                    foreach (var name in required.EnumerateArray())
                        if (!present.Contains(name.GetString()!)) return $"{at}: required \"{name}\" missing";
                if (declared.Count > 0 && present.Any(n => !declared.Contains(n))) return $"{at}: undeclared property";
                if (!present.SequenceEqual(present.OrderBy(declared.IndexOf))) return $"{at}: properties out of the schema's order";
                foreach (var property in value.EnumerateObject())
                {
                    var sub = declared.Count > 0 ? p.GetProperty(property.Name)
                        : schema.TryGetProperty("additionalProperties", out var additional) && additional.ValueKind == JsonValueKind.Object ? additional : default;
                    if (sub.ValueKind != JsonValueKind.Undefined && Check(property.Value, sub, root, $"{at}.{property.Name}") is { } reason) return reason;
                }
                return null;
            default: return $"{at}: unknown type {type}";
        }
    }
}
