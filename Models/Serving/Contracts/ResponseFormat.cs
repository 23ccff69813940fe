using System.Text.Json;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// response_format: <c>{"type": "text"}</c> (the default), <c>{"type": "json_object"}</c> (the answer is one JSON
/// object) or <c>{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}</c> (a JSON value of that schema).
/// Both JSON kinds are served by constrained decoding: the answer is valid by construction (unless max_tokens cuts it).
/// </summary>
internal sealed record ResponseFormat(string? Type, JsonSchemaFormat? JsonSchema)
{
    /// <summary>A 400 naming the field for a format that is not one of the three.</summary>
    public void Check()
    {
        switch (Type)
        {
            case "text" or "json_object":
                return;
            case "json_schema" when JsonSchema is null:
                throw new ApiException(400, "response_format json_schema needs 'json_schema': {\"name\": ..., \"schema\": {...}}.", "response_format.json_schema");
            case "json_schema" when string.IsNullOrEmpty(JsonSchema.Name):
                throw new ApiException(400, "response_format.json_schema needs a 'name'.", "response_format.json_schema.name");
            case "json_schema" when JsonSchema.Schema is not { ValueKind: JsonValueKind.Object }:
                throw new ApiException(400, "response_format.json_schema.schema must be a JSON Schema object.", "response_format.json_schema.schema");
            case "json_schema":
                return;
            default:
                throw new ApiException(400, $"response_format.type '{Type}' is not served: use \"text\", \"json_object\" or \"json_schema\".", "response_format.type");
        }
    }
}

/// <summary>The schema a json_schema answer follows; strict or not, the answer is held to it.</summary>
internal sealed record JsonSchemaFormat(string? Name, string? Description, JsonElement? Schema, bool? Strict);
