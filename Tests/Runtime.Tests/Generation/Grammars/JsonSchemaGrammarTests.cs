using Tessera.Generation.Grammars;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>What a schema's grammar accepts, feature by feature, and the keywords it refuses.</summary>
public sealed class JsonSchemaGrammarTests
{
    private static Grammar Schema(string json) => JsonSchemaGrammar.Compile(GrammarSampling.Json(json));

    [Fact]
    public void AnyJsonObject_AllowsAtMostOneSpace_AfterColonsAndCommas()
    {
        var grammar = JsonGrammar.AnyObject();
        Assert.True(grammar.Accepts("""{"a": [1, -2.5e+3, "x\"\u00e9é"], "b":{"c":null},"d": true}"""));
        Assert.True(grammar.Accepts("{}"));
        Assert.False(grammar.Accepts("{\"a\":  1}"));
        Assert.False(grammar.Accepts("{ \"a\": 1}"));
        Assert.False(grammar.Accepts("{\"a\": 1}\n"));
        Assert.False(grammar.Accepts("[1]"));
        Assert.False(grammar.Accepts("{\"a\": 01}"));
        Assert.False(grammar.Accepts("{\"a\": \"tab\there\"}"));
    }

    [Fact]
    public void Properties_ComeInTheSchemasOrder_RequiredOnesAlways_OptionalOnesMayBeLeftOut()
    {
        var grammar = Schema("""
            {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
             "required": ["b"], "additionalProperties": false}
            """);
        Assert.True(grammar.Accepts("""{"a": 1, "b": "x", "c": true}"""));
        Assert.True(grammar.Accepts("""{"b": "x"}"""));
        Assert.True(grammar.Accepts("""{"a": 1, "b": "x"}"""));
        Assert.True(grammar.Accepts("""{"b": "x", "c": false}"""));
        Assert.False(grammar.Accepts("""{"a": 1}"""));
        Assert.False(grammar.Accepts("""{"b": "x", "a": 1}"""));
        Assert.False(grammar.Accepts("""{"b": "x", "d": 1}"""));
        Assert.False(grammar.Accepts("""{, "b": "x"}"""));
        Assert.False(grammar.Accepts("""{"a": 1.5, "b": "x"}"""));
    }

    [Fact]
    public void TypeArrays_Enums_Consts_AndAnyOf()
    {
        Assert.True(Schema("""{"type": ["string", "null"]}""").Accepts("null"));
        Assert.True(Schema("""{"type": ["string", "null"]}""").Accepts("\"s\""));
        Assert.False(Schema("""{"type": ["string", "null"]}""").Accepts("1"));
        var colours = Schema("""{"enum": ["red", "grün", 3, null]}""");
        Assert.True(colours.Accepts("\"grün\""));
        Assert.True(colours.Accepts("3"));
        Assert.False(colours.Accepts("\"blue\""));
        Assert.True(Schema("""{"const": {"k": [1, 2]}}""").Accepts("""{"k":[1,2]}"""));
        var either = Schema("""{"anyOf": [{"type": "integer"}, {"type": "object", "properties": {"x": {"type": "null"}}, "required": ["x"]}]}""");
        Assert.True(either.Accepts("7"));
        Assert.True(either.Accepts("""{"x": null}"""));
        Assert.False(either.Accepts("true"));
    }

    [Fact]
    public void Arrays_HonourItemsAndTheirCountBounds()
    {
        var grammar = Schema("""{"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}""");
        Assert.False(grammar.Accepts("[]"));
        Assert.True(grammar.Accepts("[1]"));
        Assert.True(grammar.Accepts("[1, 2,3]"));
        Assert.False(grammar.Accepts("[1, 2, 3, 4]"));
        Assert.False(grammar.Accepts("[\"a\"]"));
    }

    [Fact]
    public void References_ToDefsAndDefinitions_MayRecurse()
    {
        var tree = Schema("""
            {"$ref": "#/$defs/node",
             "$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                                "required": ["value", "children"], "additionalProperties": false}}}
            """);
        Assert.True(tree.Accepts("""{"value": 1, "children": [{"value": 2, "children": []}, {"value": 3, "children": [{"value": 4, "children": []}]}]}"""));
        Assert.False(tree.Accepts("""{"value": 1, "children": [{"value": 2}]}"""));
        Assert.True(Schema("""{"definitions": {"x": {"type": "boolean"}}, "type": "array", "items": {"$ref": "#/definitions/x"}}""").Accepts("[true, false]"));
    }

    [Fact]
    public void PatternAndFormat_AreIgnored_AnyStringIsAllowed() =>
        Assert.True(Schema("""{"type": "string", "pattern": "^[0-9]+$", "format": "date-time"}""").Accepts("\"not a date\""));

    [Theory]
    [InlineData("""{"type": "integer", "minimum": 0}""", "minimum")]
    [InlineData("""{"oneOf": [{"type": "string"}]}""", "oneOf")]
    [InlineData("""{"allOf": [{"type": "string"}]}""", "allOf")]
    [InlineData("""{"type": "string", "minLength": 2}""", "minLength")]
    [InlineData("""{"type": "array", "prefixItems": [{"type": "string"}]}""", "prefixItems")]
    [InlineData("""{"type": "object", "properties": {"a": {"not": {}}}}""", "not")]
    [InlineData("""{"type": "date"}""", "type")]
    [InlineData("""{"$ref": "https://example.com/schema"}""", "$ref")]
    [InlineData("""{"$ref": "#/$defs/missing"}""", "$ref")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "required": ["b"]}""", "required")]
    [InlineData("""{"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "string"}}""", "additionalProperties")]
    [InlineData("""{"type": "array", "maxItems": 100000}""", "maxItems")]
    public void UnsupportedKeywords_AreRefused_ByName(string schema, string keyword)
    {
        var error = Assert.Throws<UnsupportedSchemaException>(() => JsonConstraints.ForResponseFormat(GrammarSampling.Json(schema), new Tessera.Runtime.Tests.Generation.ByteTokenizer()));
        Assert.Equal(keyword, error.Keyword);
        Assert.Contains($"'{keyword}'", error.Message);
    }

    [Fact]
    public void ARefusalSaysWhereInTheSchema()
    {
        var error = Assert.Throws<UnsupportedSchemaException>(() => Schema("""{"type": "object", "properties": {"a/b": {"type": "number", "maximum": 3}}}"""));
        Assert.Equal("/properties/a~1b", error.Pointer);
    }

    [Fact]
    public void ToolCalls_NameOneDeclaredFunction_WithThatFunctionsArguments()
    {
        ToolSchema[] tools =
        [
            new("get_weather", GrammarSampling.Json("""{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}""")),
            new("now", GrammarSampling.Json("""{"type": "object", "properties": {}, "additionalProperties": false}""")),
        ];
        var hermes = ToolCallGrammar.Hermes(tools);
        Assert.True(hermes.Accepts("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
        Assert.True(hermes.Accepts("<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>"));
        Assert.False(hermes.Accepts("<tool_call>\n{\"name\": \"now\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"));
        Assert.False(hermes.Accepts("<tool_call>\n{\"name\": \"delete_all\", \"arguments\": {}}\n</tool_call>"));
        Assert.True(ToolCallGrammar.Llama31(tools).Accepts("{\"name\": \"now\", \"parameters\": {}}"));
    }
}
