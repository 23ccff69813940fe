using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Tessera.Models.Serving.Contracts;

/// <summary>
/// What a chat request's messages and tools must be beyond their JSON shape (each fault a 400 naming its field), and
/// the JSON a chat template reads them as (Hugging Face's message dictionaries).
/// </summary>
internal static partial class ChatMessages
{
    /// <summary>The roles OpenAI's chat API defines ("developer" is its newer name for system).</summary>
    public static readonly string[] Roles = ["system", "developer", "user", "assistant", "tool"];

    /// <summary>OpenAI's rule for function names.</summary>
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    public static void Check(ChatCompletionRequest request)
    {
        var messages = request.Messages!;
        for (int i = 0; i < messages.Length; i++) CheckMessage(messages[i], $"messages.[{i}]");

        var names = new HashSet<string>(StringComparer.Ordinal);
        var tools = request.Tools ?? [];
        for (int i = 0; i < tools.Length; i++)
        {
            string at = $"tools.[{i}]";
            if (tools[i] is not { } tool) throw new ApiException(400, $"{at} must be an object {{\"type\": \"function\", \"function\": {{...}}}}.", at);
            if (tool.Type != "function") throw new ApiException(400, $"{at}.type must be \"function\" (the only tool type served).", $"{at}.type");
            if (tool.Function is not { } function) throw new ApiException(400, $"{at}.function is required.", $"{at}.function");
            if (function.Name is not { } name || !FunctionName().IsMatch(name))
                throw new ApiException(400, $"{at}.function.name must be 1 to 64 letters, digits, '_' or '-'.", $"{at}.function.name");
            if (!names.Add(name)) throw new ApiException(400, $"{at}.function.name: the function '{name}' is declared twice.", $"{at}.function.name");
            if (function.Parameters is { ValueKind: not JsonValueKind.Object })
                throw new ApiException(400, $"{at}.function.parameters must be a JSON Schema object.", $"{at}.function.parameters");
        }

        switch (request.ToolChoice)
        {
            case { Mode: ToolChoiceMode.Required } when tools.Length == 0:
                throw new ApiException(400, "tool_choice \"required\" needs 'tools': there is no function to call.", "tool_choice");
            case { Mode: ToolChoiceMode.Function, Function: var function } when !names.Contains(function!):
                throw new ApiException(400, $"tool_choice names the function '{function}', which 'tools' does not declare.", "tool_choice");
        }
    }

    private static void CheckMessage(ChatMessage message, string at)
    {
        if (!Roles.Contains(message.Role))
            throw new ApiException(400, $"{at}.role '{message.Role}' is not a chat role: use {string.Join(", ", Roles)}.", $"{at}.role");
        bool calls = message.ToolCalls is { Length: > 0 };
        if (message.Content is null && !(message.Role == "assistant" && calls))
            throw new ApiException(400, $"{at} needs 'content' (only an assistant message with tool_calls may leave it null).", $"{at}.content");
        if (message.ToolCalls is not null && message.Role != "assistant")
            throw new ApiException(400, $"{at}: only assistant messages carry tool_calls.", $"{at}.tool_calls");
        if (message.Role == "tool" && string.IsNullOrEmpty(message.ToolCallId))
            throw new ApiException(400, $"{at} is a tool message: it needs the 'tool_call_id' of the call it answers.", $"{at}.tool_call_id");
        var toolCalls = message.ToolCalls ?? [];
        for (int j = 0; j < toolCalls.Length; j++)
        {
            string call = $"{at}.tool_calls.[{j}]";
            if (toolCalls[j] is not { Function: { Name: { Length: > 0 }, Arguments: not null } })
                throw new ApiException(400, $"{call} needs 'function' with a 'name' and its 'arguments' (a JSON text).", call);
            if (toolCalls[j].Type is not (null or "function")) throw new ApiException(400, $"{call}.type must be \"function\".", $"{call}.type");
        }
    }

    /// <summary>
    /// The messages as a chat template reads them: role ("developer", OpenAI's newer name, as "system": the role
    /// chat templates know), content (text, or null), and where present name, tool_calls
    /// (each arguments string turned into the object it holds, as vLLM and transformers hand them to templates; kept as
    /// the string when it holds no object) and tool_call_id.
    /// </summary>
    public static JsonArray ToTemplateJson(IEnumerable<ChatMessage> messages)
    {
        var array = new JsonArray();
        foreach (var message in messages)
        {
            var node = new JsonObject { ["role"] = message.Role == "developer" ? "system" : message.Role, ["content"] = message.Content?.Text };
            if (message.Name is not null) node["name"] = message.Name;
            if (message.ToolCalls is { } calls)
            {
                var list = new JsonArray();
                foreach (var call in calls)
                    list.Add(new JsonObject
                    {
                        ["id"] = call.Id,
                        ["type"] = "function",
                        ["function"] = new JsonObject { ["name"] = call.Function!.Name, ["arguments"] = ArgumentsNode(call.Function.Arguments!) },
                    });
                node["tool_calls"] = list;
            }
            if (message.ToolCallId is not null) node["tool_call_id"] = message.ToolCallId;
            array.Add(node);
        }
        return array;
    }

    /// <summary>The tools as a chat template reads them: OpenAI's own <c>{"type": "function", "function": {...}}</c> objects.</summary>
    public static JsonArray? ToolsToTemplateJson(ToolDefinition[]? tools)
    {
        if (tools is not { Length: > 0 }) return null;
        var array = new JsonArray();
        foreach (var tool in tools)
        {
            var function = new JsonObject { ["name"] = tool.Function!.Name };
            if (tool.Function.Description is not null) function["description"] = tool.Function.Description;
            function["parameters"] = tool.Function.Parameters is { } parameters ? JsonNode.Parse(parameters.GetRawText()) : new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
            array.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }
        return array;
    }

    private static JsonNode? ArgumentsNode(string arguments)
    {
        try
        {
            return JsonNode.Parse(arguments) is JsonObject parsed ? parsed : JsonValue.Create(arguments);
        }
        catch (JsonException)
        {
            return JsonValue.Create(arguments);
        }
    }
}
