using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Text;
using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Where a checkpoint's chat template comes from, as transformers reads it: chat_template.jinja over tokenizer_config.json's
/// chat_template (a string, or named templates with "tool_use" chosen when tools are given), the special tokens beside
/// it (strings or AddedToken objects), or a GGUF file's tokenizer.chat_template; none means the server's plain template.
/// </summary>
public sealed class CheckpointChatTemplateTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tessera-chat-template-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static readonly JsonArray Hello = JsonNode.Parse("""[{"role": "user", "content": "hi"}]""")!.AsArray();

    private void Config(string json) => File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), json);

    [Fact]
    public void AFolderWithoutATemplate_HasNone()
    {
        Config("""{"bos_token": "<s>"}""");
        Assert.Null(CheckpointChatTemplate.Load(_folder));
        Directory.CreateDirectory(Path.Combine(_folder, "empty"));
        Assert.Null(CheckpointChatTemplate.Load(Path.Combine(_folder, "empty")));
    }

    [Fact]
    public void TokenizerConfigTemplate_SeesTheSpecialTokens_AsStringsOrAddedTokens()
    {
        Config("""
        {"chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}|{{ pad_token is defined }}",
         "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "pad_token": null}
        """);
        var template = CheckpointChatTemplate.Load(_folder)!;
        Assert.Equal("<s>[user]hi</s>[assistant]|False", template.Render(Hello));
        Assert.Equal("<s>[user]hi</s>|False", template.Render(Hello, addGenerationPrompt: false));
    }

    [Fact]
    public void ChatTemplateJinja_TakesPrecedence_OverTokenizerConfig()
    {
        Config("""{"chat_template": "from config", "eos_token": "</s>"}""");
        File.WriteAllText(Path.Combine(_folder, "chat_template.jinja"), "from file {{ eos_token }}\n");
        Assert.Equal("from file </s>", CheckpointChatTemplate.Load(_folder)!.Render(Hello));
    }

    [Fact]
    public void NamedTemplates_UseToolUse_WhenToolsAreGiven_ElseDefault()
    {
        Config("""{"chat_template": [{"name": "default", "template": "plain"}, {"name": "tool_use", "template": "tools: {{ tools | map(attribute='name') | join(',') }}"}]}""");
        var template = CheckpointChatTemplate.Load(_folder)!;
        Assert.Equal("plain", template.Render(Hello));
        Assert.Equal("tools: f,g", template.Render(Hello, JsonNode.Parse("""[{"name": "f"}, {"name": "g"}]""")!.AsArray()));
    }

    [Fact]
    public void AdditionalChatTemplates_AreNamedByTheirFiles()
    {
        File.WriteAllText(Path.Combine(_folder, "chat_template.jinja"), "default");
        Directory.CreateDirectory(Path.Combine(_folder, "additional_chat_templates"));
        File.WriteAllText(Path.Combine(_folder, "additional_chat_templates", "tool_use.jinja"), "with tools");
        var template = CheckpointChatTemplate.Load(_folder)!;
        Assert.Equal(["default", "tool_use"], template.Sources.Keys.Order());
        Assert.Equal("default", template.Render(Hello));
        Assert.Equal("with tools", template.Render(Hello, []));
    }

    [Fact]
    public void ExtraVariables_ReachTheTemplate()
    {
        File.WriteAllText(Path.Combine(_folder, "chat_template.jinja"), "{{ enable_thinking is defined and enable_thinking }}");
        var template = CheckpointChatTemplate.Load(_folder)!;
        Assert.Equal("False", template.Render(Hello));
        Assert.Equal("True", template.Render(Hello, extraVariables: new Dictionary<string, JsonNode?> { ["enable_thinking"] = true }));
    }

    [Fact]
    public void AnInvalidTemplate_IsACheckpointError_NamingTheFile()
    {
        Config("""{"chat_template": "{% if %}"}""");
        var e = Assert.Throws<CheckpointException>(() => CheckpointChatTemplate.Load(_folder));
        Assert.Contains("tokenizer_config.json", e.Message);
        Assert.Contains("not valid Jinja", e.Message);
    }

    [Fact]
    public void AGgufFile_CarriesItsTemplate_AndItsTokensById()
    {
        string path = Path.Combine(_folder, "model.gguf");
        GgufWriter.Write(path,
        [
            new("general.architecture", "llama"),
            new("tokenizer.ggml.tokens", new[] { "<unk>", "<|begin|>", "<|end|>" }),
            new("tokenizer.ggml.bos_token_id", 1u), new("tokenizer.ggml.eos_token_id", 2u),
            new("tokenizer.chat_template", "{{ bos_token }}{{ messages[0].content }}{{ eos_token }}"),
            new("tokenizer.chat_template.tool_use", "tools!"),
        ], []);
        var template = CheckpointChatTemplate.Load(path)!;
        Assert.Equal("<|begin|>hi<|end|>", template.Render(Hello));
        Assert.Equal("tools!", template.Render(Hello, []));
    }

    [Fact]
    public void AGgufFileWithoutATemplate_HasNone()
    {
        string path = Path.Combine(_folder, "base.gguf");
        GgufWriter.Write(path, [new("general.architecture", "llama")], []);
        Assert.Null(CheckpointChatTemplate.Load(path));
    }

    [Fact]
    public void RaiseException_InACheckpointTemplate_IsATemplateError_RaisedByTheTemplate()
    {
        File.WriteAllText(Path.Combine(_folder, "chat_template.jinja"), "{% if messages[0].role != 'system' %}{{ raise_exception('A system message must come first.') }}{% endif %}");
        var e = Assert.Throws<TemplateException>(() => CheckpointChatTemplate.Load(_folder)!.Render(Hello));
        Assert.True(e.RaisedByTemplate);
        Assert.Equal("A system message must come first.", e.Reason);
    }
}
