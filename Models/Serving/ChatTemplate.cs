using System.Text;
using Tessera.Models.Serving.Contracts;

namespace Tessera.Models.Serving;

/// <summary>
/// Turns chat messages into one prompt with a plain template: one <c>"role: content\n"</c> line per message, then
/// <c>"assistant:"</c> for the model to continue. A checkpoint's Jinja <c>chat_template</c> (tokenizer_config.json)
/// is not interpreted: the bundled tiny checkpoints are not chat models, and a Jinja engine is more than this needs.
/// </summary>
internal static class ChatTemplate
{
    /// <summary>The text the assistant's reply follows.</summary>
    public const string GenerationPrompt = "assistant:";

    /// <summary>Renders checked messages (each with a role and content).</summary>
    public static string Render(IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages) prompt.Append(message.Role).Append(": ").Append(message.Content!.Text).Append('\n');
        return prompt.Append(GenerationPrompt).ToString();
    }
}
