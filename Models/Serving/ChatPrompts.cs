using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Generation;
using Tessera.Generation.Grammars;
using Tessera.Models.Serving.Contracts;
using Tessera.Models.Serving.Tools;
using Tessera.Text;
using Tessera.Text.Templates;

namespace Tessera.Models.Serving;

/// <summary>
/// Turns a chat request into its prompt and says how the answer is read:
/// <list type="bullet">
/// <item>the checkpoint's own chat template (Jinja, rendered as transformers renders it, tokenized without adding BOS
/// again) or, for a checkpoint without one, a plain <c>role: content</c> template;</item>
/// <item>the tools: handed to a template that takes them; described in a system preamble (Hermes' words, the format
/// most models were tuned on) where the template has no place for them;</item>
/// <item>the answer: read for calls in the template's <see cref="ToolCallFormat"/> (tool_choice auto), or held by a
/// constraint to the calls themselves (required, or a named function) or to JSON (response_format).</item>
/// </list>
/// </summary>
internal sealed class ChatPrompts
{
    private readonly CheckpointChatTemplate? _template;
    private readonly ITokenizer _tokenizer;
    private readonly bool _templateTakesTools;

    /// <param name="template">the checkpoint's chat template, or null for the plain one</param>
    /// <param name="toolFormat">how the model writes calls; null: the one its template teaches</param>
    /// <param name="encoder">turns the rendered prompt into ids, within the context's bound; null: no bound</param>
    public ChatPrompts(CheckpointChatTemplate? template, ITokenizer tokenizer, ToolCallFormat? toolFormat = null, PromptEncoder? encoder = null)
    {
        Encoder = encoder ?? new PromptEncoder(tokenizer, int.MaxValue);
        _template = template;
        _tokenizer = tokenizer;
        string? source = template is null ? null : string.Concat(template.Sources.Values);
        _templateTakesTools = source?.Contains("tools", StringComparison.Ordinal) == true;
        ToolFormat = toolFormat ?? ToolCallFormat.ForTemplate(source);
        Markers = SpecialMarkers(ToolFormat, tokenizer);
    }

    /// <summary>How a rendered prompt becomes ids (the bound on its text checked first).</summary>
    public PromptEncoder Encoder { get; }

    /// <summary>How this model writes its tool calls.</summary>
    public ToolCallFormat ToolFormat { get; }

    /// <summary>The format's markers that are special tokens of this vocabulary: their text is kept when an answer is read for calls.</summary>
    public IReadOnlySet<int> Markers { get; }

    /// <summary>The request's prompt and how its answer is read; a 400 for what cannot be served.</summary>
    public ChatPrompt Prepare(ChatCompletionRequest request)
    {
        var mode = request.ToolChoice?.Mode ?? (request.Tools is { Length: > 0 } ? ToolChoiceMode.Auto : ToolChoiceMode.None);
        // With "none" the model is not shown the tools: it answers in text (the calls in the history are still shown).
        var tools = mode == ToolChoiceMode.None ? null : request.Tools;
        var functions = (tools ?? []).Select(t => t.Function!).ToArray();

        ToolCallFormat? reader = mode switch
        {
            ToolChoiceMode.Auto => ToolFormat,
            ToolChoiceMode.Required => ForcedToolCalls.Required(functions, request.ParallelToolCalls ?? true),
            ToolChoiceMode.Function => ForcedToolCalls.Named(functions.First(f => f.Name == request.ToolChoice!.Function)),
            _ => null,
        };
        // Forced calls are held to their schema; response_format then applies to answers in text, which cannot come.
        var constraint = reader is ForcedToolCalls forced
            ? Constraint(forced.SchemaElement, _tokenizer, "tools")
            : Constraint(request.ResponseFormat, _tokenizer);

        string text = Render(request.Messages!, ChatMessages.ToolsToTemplateJson(tools));
        // A checkpoint's template writes its own BOS (transformers encodes it without adding special tokens).
        int[] tokens = Encoder.Encode(text, "messages", addSpecialTokens: _template is null);
        return new ChatPrompt(text, tokens, reader, constraint, mode == ToolChoiceMode.Function);
    }

    /// <summary>The rule response_format holds the answer to (null for text): any JSON object, or a schema's values.</summary>
    public static Func<ITokenConstraint>? Constraint(ResponseFormat? format, ITokenizer tokenizer) => format?.Type switch
    {
        "json_object" => Constraint(null, tokenizer, "response_format"),
        "json_schema" => Constraint(format.JsonSchema!.Schema, tokenizer, "response_format.json_schema.schema"),
        _ => null,
    };

    /// <summary>A schema's constraint (null: any JSON object); a 400 naming <paramref name="param"/> for a schema that cannot be served.</summary>
    private static Func<ITokenConstraint> Constraint(JsonElement? schema, ITokenizer tokenizer, string param)
    {
        try
        {
            return JsonConstraints.ForResponseFormat(schema, tokenizer);
        }
        catch (ArgumentException e)
        {
            throw new ApiException(400, $"The schema cannot be served: {e.Message}", param);
        }
    }

    /// <summary>The prompt's text.</summary>
    public string Render(IReadOnlyList<ChatMessage> messages, JsonArray? tools)
    {
        var json = ChatMessages.ToTemplateJson(messages);
        if (tools is not null && !_templateTakesTools) AddToolPreamble(json, tools);
        if (_template is null) return PlainTemplate.Render(json);
        try
        {
            return _template.Render(json, _templateTakesTools ? tools : null, addGenerationPrompt: true);
        }
        catch (TemplateException e)
        {
            throw new ApiException(400, $"The chat template refused the conversation: {e.Message}", "messages", "chat_template_error");
        }
    }

    /// <summary>
    /// Describes the tools in the system message (one is added first where there is none), in the words of Hermes'
    /// and Qwen's templates, for a template that cannot show them itself.
    /// </summary>
    private static void AddToolPreamble(JsonArray messages, JsonArray tools)
    {
        var preamble = new StringBuilder("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n")
            .Append("You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
        foreach (var tool in tools) preamble.Append('\n').Append(tool!.ToJsonString());
        preamble.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n")
            .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
        if (messages.Count > 0 && messages[0]!["role"]!.GetValue<string>() is "system" or "developer")
            messages[0]!["content"] = messages[0]!["content"]?.GetValue<string>() + "\n\n" + preamble;
        else
            messages.Insert(0, new JsonObject { ["role"] = "system", ["content"] = preamble.ToString() });
    }

    private static IReadOnlySet<int> SpecialMarkers(ToolCallFormat format, ITokenizer tokenizer)
    {
        var ids = new HashSet<int>();
        foreach (string marker in format.Markers)
        {
            int[] encoded;
            try
            {
                encoded = tokenizer.Encode(marker, addSpecialTokens: false);
            }
            catch (CheckpointException)
            {
                continue;
            }
            if (encoded is [int id] && tokenizer.IsSpecial(id)) ids.Add(id);
        }
        return ids;
    }
}

/// <summary>One chat request made ready: its prompt, how its answer is read for calls (null: plain text), the rule its tokens follow (null: none), and whether tool_choice named the function.</summary>
internal sealed record ChatPrompt(string Text, int[] Tokens, ToolCallFormat? Calls, Func<ITokenConstraint>? Constraint, bool NamedFunction);
