using System.Text;
using System.Text.Json.Nodes;

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

    /// <summary>Renders <c>messages</c> (each {role, content}); content is a string or an array of {type: "text", text} parts.</summary>
    public static string Render(JsonArray messages)
    {
        if (messages.Count == 0) throw new ApiException(400, "'messages' must contain at least one message.", "messages");
        var prompt = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message)
                throw new ApiException(400, $"messages[{i}] must be an object with 'role' and 'content'.", $"messages.[{i}]");
            string role = message["role"] is JsonValue r && r.TryGetValue(out string? roleText) && roleText.Length > 0
                ? roleText
                : throw new ApiException(400, $"messages[{i}].role must be a non-empty string (system, user or assistant).", $"messages.[{i}].role");
            prompt.Append(role).Append(": ").Append(Content(message["content"], i)).Append('\n');
        }
        return prompt.Append(GenerationPrompt).ToString();
    }

    private static string Content(JsonNode? content, int index)
    {
        switch (content)
        {
            case JsonValue value when value.TryGetValue(out string? text):
                return text;
            case JsonArray parts:
                var joined = new StringBuilder();
                foreach (var part in parts)
                    if (part is JsonObject p && p["type"] is JsonValue type && type.TryGetValue(out string? kind) && kind == "text"
                        && p["text"] is JsonValue t && t.TryGetValue(out string? partText))
                        joined.Append(partText);
                    else throw new ApiException(400, $"messages[{index}].content: only text parts ({{\"type\": \"text\", \"text\": ...}}) are supported.", $"messages.[{index}].content");
                return joined.ToString();
            default:
                throw new ApiException(400, $"messages[{index}].content must be a string or an array of text parts.", $"messages.[{index}].content");
        }
    }
}
