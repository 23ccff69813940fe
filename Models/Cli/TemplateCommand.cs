using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Text;

namespace Tessera.Models.Cli;

/// <summary>
/// <c>tessera template</c>: the prompt a checkpoint's chat template makes of a conversation, printed exactly (no newline
/// added), as transformers' <c>apply_chat_template(messages, tools=..., add_generation_prompt=..., tokenize=False)</c>
/// returns it.
/// </summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint", "-c") { Description = "Checkpoint folder (tokenizer_config.json, chat_template.jinja) or GGUF file", Required = true };
        var messages = new Option<string>("--messages", "-m") { Description = "A JSON file: the messages, an array of {\"role\", \"content\", ...} as OpenAI's API takes them", Required = true };
        var tools = new Option<string?>("--tools") { Description = "A JSON file: the tools, an array of {\"type\": \"function\", \"function\": {...}}" };
        var noPrompt = new Option<bool>("--no-generation-prompt") { Description = "Leave out the assistant header that a reply follows (add_generation_prompt=False)" };
        var variables = new Option<string[]>("--var") { Description = "An extra template variable, NAME=JSON (e.g. enable_thinking=false); a value that is not JSON is a string", AllowMultipleArgumentsPerToken = false };
        var command = new Command("template", "Print the prompt the checkpoint's chat template makes of a conversation (exactly, with no newline added).")
        {
            checkpoint, messages, tools, noPrompt, variables,
        };
        command.SetAction(r => Program.Run(() => Execute(r.GetValue(checkpoint)!, r.GetValue(messages)!, r.GetValue(tools), !r.GetValue(noPrompt), r.GetValue(variables) ?? [])));
        return command;
    }

    private static int Execute(string checkpoint, string messagesPath, string? toolsPath, bool addGenerationPrompt, string[] variables)
    {
        var template = CheckpointChatTemplate.Load(checkpoint)
            ?? throw new CheckpointException($"'{checkpoint}' has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja, no tokenizer.chat_template in a GGUF file).");
        var messages = ReadArray(messagesPath, "--messages");
        var tools = toolsPath is null ? null : ReadArray(toolsPath, "--tools");
        var extra = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (string variable in variables)
        {
            int equals = variable.IndexOf('=');
            if (equals <= 0) throw new ArgumentException($"--var '{variable}' is not NAME=VALUE.");
            string value = variable[(equals + 1)..];
            extra[variable[..equals]] = TryParse(value, $"--var {variable[..equals]}", out var json) ? json : JsonValue.Create(value);
        }
        Console.Out.Write(template.Render(messages, tools, addGenerationPrompt, extra));
        Console.Out.Flush();
        return 0;
    }

    private static JsonArray ReadArray(string path, string option)
    {
        var node = FileText.ReadJson(path, FileText.Metadata);
        return node as JsonArray ?? throw new FormatException($"{option} {path}: expected a JSON array.");
    }

    /// <summary>A --var value as JSON when it is JSON (its strings checked to be text: a lone surrogate escape is an error), else false.</summary>
    private static bool TryParse(string value, string option, out JsonNode? json)
    {
        try
        {
            JsonDocument.Parse(value).Dispose();
        }
        catch (JsonException)
        {
            json = null;
            return false;
        }
        json = FileText.ParseJson(System.Text.Encoding.UTF8.GetBytes(value), option);
        return true;
    }
}
