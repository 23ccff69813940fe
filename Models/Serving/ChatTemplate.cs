using System.Text;
using System.Text.Json.Nodes;
using Tessera.Models.Serving.Contracts;
using Tessera.Text;

namespace Tessera.Models.Serving;

/// <summary>
/// Turns chat messages into one prompt: with the checkpoint's own Jinja chat template when it has one
/// (<see cref="CheckpointChatTemplate"/>, rendered as transformers' apply_chat_template renders it), else with a plain
/// template: one <c>"role: content\n"</c> line per message, then <c>"assistant:"</c> for the model to continue (the
/// bundled tiny checkpoints are not chat models and carry no template).
/// </summary>
internal static class ChatTemplate
{
    /// <summary>The text the assistant's reply follows in the plain template.</summary>
    public const string GenerationPrompt = "assistant:";

    /// <summary>Renders checked messages (each with a role and content) with the plain template.</summary>
    public static string Render(IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages) prompt.Append(message.Role).Append(": ").Append(message.Content!.Text).Append('\n');
        return prompt.Append(GenerationPrompt).ToString();
    }

    /// <summary>
    /// Renders checked messages with the checkpoint's template, the generation prompt added. The text carries the
    /// template's own special tokens (BOS included): encode it without adding any. A template that refuses the
    /// conversation throws <see cref="Tessera.Text.Templates.TemplateException"/>.
    /// </summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, CheckpointChatTemplate template)
    {
        var json = new JsonArray();
        foreach (var message in messages) json.Add(new JsonObject { ["role"] = message.Role, ["content"] = message.Content!.Text });
        return template.Render(json, tools: null, addGenerationPrompt: true);
    }
}
