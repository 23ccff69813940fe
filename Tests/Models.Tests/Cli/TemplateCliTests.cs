using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// <c>tessera template</c> prints exactly what transformers' apply_chat_template returns (the Qwen3 and Gemma 3
/// templates against the runtime tests' expected.json, written with Python's jinja2), with no newline added; a
/// checkpoint without a template, or a conversation the template refuses, is one error line and exit 1.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class TemplateCliTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tessera-template-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>The chat-template fixtures of the runtime tests, in the source tree.</summary>
    private static string DataFolder
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
            return Path.Combine(dir!.FullName, "Tests", "Runtime.Tests", "Text", "Templates", "Data");
        }
    }

    private static JsonNode Conversations => JsonNode.Parse(File.ReadAllText(Path.Combine(DataFolder, "conversations.json")))!;

    private static JsonNode Expected(string template, string conversation, bool generationPrompt, string variables = "{}") =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(DataFolder, "expected.json")))!["results"]!.AsArray().Single(r =>
            (string)r!["template"]! == template && (string)r["conversation"]! == conversation && (bool)r["add_generation_prompt"]! == generationPrompt
            && r["variables"]!.ToJsonString() == JsonNode.Parse(variables)!.ToJsonString())!;

    private string Write(string name, JsonNode json)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    [Fact]
    public void PrintsTheQwen3Prompt_WithToolsAndToolCalls_ExactlyAsTransformers()
    {
        string messages = Write("messages.json", Conversations["conversations"]!["tool_calls_with_text"]!);
        string tools = Write("tools.json", Conversations["tools"]!);
        var result = TesseraCli.Run("template", "--checkpoint", Path.Combine(DataFolder, "qwen3"), "--messages", messages, "--tools", tools);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal((string)Expected("qwen3", "tool_calls_with_text", generationPrompt: true)["output"]!, result.Out);
        Assert.Empty(result.Error);
    }

    [Fact]
    public void NoGenerationPrompt_AndExtraVariables_ReachTheTemplate()
    {
        string messages = Write("messages.json", Conversations["conversations"]!["thinking"]!);
        var result = TesseraCli.Run("template", "-c", Path.Combine(DataFolder, "qwen3"), "-m", messages, "--no-generation-prompt", "--var", "enable_thinking=false");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal((string)Expected("qwen3", "thinking", generationPrompt: false, """{"enable_thinking": false}""")["output"]!, result.Out);
    }

    [Fact]
    public void ACheckpointWithoutATemplate_IsOneErrorLine()
    {
        string messages = Write("messages.json", Conversations["conversations"]!["user_only"]!);
        var result = TesseraCli.Run("template", "--checkpoint", Fixtures.Directory(Fixtures.TinyLlama), "--messages", messages);
        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Out);
        Assert.StartsWith("error: ", Assert.Single(result.ErrorLines));
        Assert.Contains("has no chat template", result.Error);
    }

    [Fact]
    public void AConversationTheTemplateRefuses_IsOneErrorLine_WithTheTemplatesMessage()
    {
        string messages = Write("messages.json", Conversations["conversations"]!["alternation_broken"]!);
        var result = TesseraCli.Run("template", "--checkpoint", Path.Combine(DataFolder, "gemma3"), "--messages", messages);
        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Out);
        Assert.Contains("Conversation roles must alternate user/assistant/user/assistant/...", Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void MessagesThatAreNotAJsonArray_AreOneErrorLine()
    {
        string messages = Write("messages.json", new JsonObject { ["role"] = "user" });
        var result = TesseraCli.Run("template", "--checkpoint", Path.Combine(DataFolder, "qwen3"), "--messages", messages);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("expected a JSON array", Assert.Single(result.ErrorLines));
    }

    /// <summary>
    /// Issue 28: JSON allows a lone surrogate escape, which JsonNode parses and then throws InvalidOperationException for
    /// where the template first reads the string: an unhandled exception with its stack trace.
    /// </summary>
    [Theory]
    [InlineData("""[{"role": "user", "content": "hi \ud800"}]""")]
    [InlineData("""[{"role": "user", "\udc00": "hi"}]""")]
    public void Messages_WithALoneSurrogateEscape_AreOneErrorLineNamingTheFile(string json)
    {
        string messages = Path.Combine(_folder, "messages.json");
        File.WriteAllText(messages, json);

        var result = TesseraCli.Run("template", "--checkpoint", Path.Combine(DataFolder, "qwen3"), "--messages", messages);

        TesseraCli.AssertFailsWith(result, "messages.json", "not valid Unicode text");
    }

    [Fact]
    public void AVariable_WithALoneSurrogateEscape_IsOneErrorLineNamingIt()
    {
        string messages = Path.Combine(_folder, "messages.json");
        File.WriteAllText(messages, """[{"role": "user", "content": "hi"}]""");

        var result = TesseraCli.Run("template", "--checkpoint", Path.Combine(DataFolder, "qwen3"), "--messages", messages, "--var", "name=\"\\ud800\"");

        TesseraCli.AssertFailsWith(result, "--var name", "not valid Unicode text");
    }

    [Fact]
    public void AChatTemplateWithALoneSurrogateEscape_IsOneErrorLineNamingTokenizerConfig()
    {
        File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), """{"chat_template": "{{ messages[0].content }}\ud800"}""");
        string messages = Write("messages.json", JsonNode.Parse("""[{"role": "user", "content": "hi"}]""")!);

        var result = TesseraCli.Run("template", "--checkpoint", _folder, "--messages", messages);

        TesseraCli.AssertFailsWith(result, "tokenizer_config.json", "not valid Unicode text");
    }
}
