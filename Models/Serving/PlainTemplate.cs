using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Serving;

/// <summary>
/// The prompt of a checkpoint without a chat template (a base model, the bundled tiny checkpoints): one
/// <c>"role: content\n"</c> line per message, an assistant's calls written as Hermes' <c>&lt;tool_call&gt;</c> blocks,
/// then <c>"assistant:"</c> for the model to continue.
/// </summary>
internal static class PlainTemplate
{
    /// <summary>The text the assistant's reply follows.</summary>
    public const string GenerationPrompt = "assistant:";

    /// <summary>Renders messages as <see cref="Contracts.ChatMessages.ToTemplateJson"/> gives them.</summary>
    public static string Render(JsonArray messages)
    {
        var prompt = new StringBuilder();
        foreach (var message in messages)
        {
            prompt.Append(message!["role"]!.GetValue<string>()).Append(": ").Append(message["content"]?.GetValue<string>());
            foreach (var call in message["tool_calls"]?.AsArray() ?? [])
            {
                var function = call!["function"]!;
                var body = new JsonObject { ["name"] = function["name"]!.GetValue<string>(), ["arguments"] = function["arguments"]?.DeepClone() };
                prompt.Append("<tool_call>\n").Append(body.ToJsonString()).Append("\n</tool_call>");
            }
            prompt.Append('\n');
        }
        return prompt.Append(GenerationPrompt).ToString();
    }
}
