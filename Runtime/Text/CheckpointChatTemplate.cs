using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Checkpoints;
using Tessera.Text.Templates;

namespace Tessera.Text;

/// <summary>
/// A checkpoint's chat template, rendered as transformers' <c>apply_chat_template</c> renders it (see
/// <see cref="Template"/>): the messages (JSON, passed through as the client sent them: tool_calls, tool_call_id, name,
/// content null or a list of parts), <c>tools</c> (None when not given), <c>documents</c> (None),
/// <c>add_generation_prompt</c>, the special tokens the tokenizer sets (bos_token, eos_token, unk_token, pad_token), then
/// any extra variables (e.g. Qwen3's <c>enable_thinking</c>).
/// <para>
/// Where it comes from (<see cref="Load"/>): a folder's <c>chat_template.jinja</c>, which takes precedence over
/// tokenizer_config.json's <c>chat_template</c> (a string, or a list of <c>{name, template}</c>) as in transformers, plus
/// named ones in <c>additional_chat_templates/*.jinja</c>; or a GGUF file's <c>tokenizer.chat_template</c>
/// (<c>tokenizer.chat_template.NAME</c> for named ones), its tokens from <c>tokenizer.ggml.*_token_id</c>. With tools,
/// the template named <c>tool_use</c> is used when there is one, else <c>default</c>.
/// </para>
/// <para>
/// Transformers tokenizes the rendered text without adding special tokens (the template writes its own BOS): encode it
/// with <c>ITokenizer.Encode(text, addSpecialTokens: false)</c>.
/// </para>
/// <para>Immutable and thread-safe: a server renders every request with one instance.</para>
/// </summary>
public sealed class CheckpointChatTemplate
{
    private readonly Dictionary<string, Template> _templates;
    private readonly TimeProvider _clock;

    /// <param name="templates">Jinja sources by name; a single template is named "default".</param>
    /// <param name="specialTokens">bos_token, eos_token, unk_token, pad_token: those the tokenizer sets.</param>
    /// <param name="clock">What <c>strftime_now</c> reads (default: the system clock).</param>
    /// <param name="source">Where the templates come from, for error messages.</param>
    public CheckpointChatTemplate(IReadOnlyDictionary<string, string> templates, IReadOnlyDictionary<string, string>? specialTokens = null,
        TimeProvider? clock = null, string source = "chat template", TemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(templates);
        if (templates.Count == 0) throw new ArgumentException("a chat template needs at least one template.", nameof(templates));
        _templates = new Dictionary<string, Template>(StringComparer.Ordinal);
        foreach (var (name, text) in templates)
        {
            try
            {
                _templates[name] = Template.Parse(text, limits);
            }
            catch (TemplateException e)
            {
                throw new CheckpointException($"{source}: the chat template{(templates.Count > 1 ? $" '{name}'" : "")} is not valid Jinja: {e.Message}", e);
            }
        }
        Sources = templates.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        SpecialTokens = specialTokens?.Where(p => !string.IsNullOrEmpty(p.Value)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal) ?? [];
        _clock = clock ?? TimeProvider.System;
        Source = source;
    }

    /// <summary>The Jinja sources by name ("default" for a checkpoint's single template).</summary>
    public IReadOnlyDictionary<string, string> Sources { get; }

    /// <summary>The special tokens passed to the template as variables (only those the tokenizer sets).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens { get; }

    /// <summary>Where the template was read from.</summary>
    public string Source { get; }

    /// <summary>The named template rendered for this request: "tool_use" when tools are given and it exists, else "default".</summary>
    public string TemplateName(bool withTools) =>
        withTools && _templates.ContainsKey("tool_use") ? "tool_use"
        : _templates.ContainsKey("default") ? "default"
        : _templates.Count == 1 ? _templates.Keys.First()
        : throw new TemplateException($"{Source}: the checkpoint has several chat templates ({string.Join(", ", _templates.Keys)}) and none named 'default'");

    /// <summary>
    /// The prompt for <paramref name="messages"/>. A template that refuses the conversation (its <c>raise_exception</c>,
    /// e.g. roles that do not alternate) or fails on it throws <see cref="TemplateException"/>.
    /// </summary>
    public string Render(JsonArray messages, JsonArray? tools = null, bool addGenerationPrompt = true, IReadOnlyDictionary<string, JsonNode?>? extraVariables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var variables = new Dictionary<string, JsonNode?>(StringComparer.Ordinal)
        {
            ["messages"] = messages,
            ["tools"] = tools,
            ["documents"] = null,
            ["add_generation_prompt"] = JsonValue.Create(addGenerationPrompt),
        };
        foreach (var (name, token) in SpecialTokens) variables[name] = JsonValue.Create(token);
        if (extraVariables is not null)
            foreach (var (name, value) in extraVariables) variables[name] = value;
        return _templates[TemplateName(tools is not null)].Render(variables, _clock);
    }

    /// <summary>
    /// The chat template of a checkpoint folder or GGUF file, or null when it has none (a base model, the bundled tiny
    /// checkpoints): then a server falls back to a plain template. A template that does not parse, or a config file that
    /// is not JSON, throws <see cref="CheckpointException"/>.
    /// </summary>
    public static CheckpointChatTemplate? Load(string checkpointPath, TimeProvider? clock = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        if (File.Exists(checkpointPath)) return LoadGguf(checkpointPath, clock);
        if (!Directory.Exists(checkpointPath)) throw new CheckpointException($"checkpoint folder '{checkpointPath}' does not exist.");

        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        string configPath = Path.Combine(checkpointPath, "tokenizer_config.json");
        string source = configPath;
        if (File.Exists(configPath))
        {
            var config = FileText.ReadJson(configPath, FileText.Metadata);
            if (config is JsonObject obj) ReadTokenizerConfig(obj, configPath, templates, tokens);
        }
        string jinjaPath = Path.Combine(checkpointPath, "chat_template.jinja");
        if (File.Exists(jinjaPath))
        {
            templates["default"] = FileText.ReadText(jinjaPath, FileText.Metadata);
            source = jinjaPath;
        }
        string additional = Path.Combine(checkpointPath, "additional_chat_templates");
        if (Directory.Exists(additional))
            foreach (var file in Directory.EnumerateFiles(additional, "*.jinja").Order(StringComparer.Ordinal))
                templates[Path.GetFileNameWithoutExtension(file)] = FileText.ReadText(file, FileText.Metadata);
        return templates.Count == 0 ? null : new CheckpointChatTemplate(templates, tokens, clock, source);
    }

    /// <summary>A tokenizer_config.json's chat_template (a string, or a list of {name, template}) and special tokens (strings or AddedToken objects).</summary>
    private static void ReadTokenizerConfig(JsonObject config, string path, Dictionary<string, string> templates, Dictionary<string, string> tokens)
    {
        switch (config["chat_template"])
        {
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                templates["default"] = value.GetValue<string>();
                break;
            case JsonArray list:
                foreach (var item in list)
                {
                    if (item is not JsonObject { } named || named["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String
                        || named["template"] is not JsonValue text || text.GetValueKind() != JsonValueKind.String)
                        throw new CheckpointException($"{path}: chat_template must be a string or a list of {{\"name\": ..., \"template\": ...}} objects.");
                    templates[name.GetValue<string>()] = text.GetValue<string>();
                }
                break;
            case null:
                break;
            default:
                throw new CheckpointException($"{path}: chat_template must be a string or a list of {{\"name\": ..., \"template\": ...}} objects.");
        }
        foreach (string name in TokenNames)
        {
            var token = config[name] is JsonObject added ? added["content"] : config[name];
            if (token is JsonValue text && text.GetValueKind() == JsonValueKind.String && text.GetValue<string>() is { Length: > 0 } content) tokens[name] = content;
        }
    }

    private static readonly string[] TokenNames = ["bos_token", "eos_token", "unk_token", "pad_token"];

    private static CheckpointChatTemplate? LoadGguf(string path, TimeProvider? clock)
    {
        using var file = GgufFile.Open(path);
        var meta = file.Metadata;
        var templates = new Dictionary<string, string>(StringComparer.Ordinal);
        const string Key = "tokenizer.chat_template";
        foreach (var (key, value) in meta)
            if (value is string text && (key == Key || key.StartsWith(Key + ".", StringComparison.Ordinal)))
                templates[key == Key ? "default" : key[(Key.Length + 1)..]] = text;
        if (templates.Count == 0) return null;
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        if (meta.TryGetValue("tokenizer.ggml.tokens", out var list) && list is string[] vocabulary)
            foreach (var (name, idKey) in new[] { ("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"), ("pad_token", "padding_token_id") })
                if (meta.TryGetValue("tokenizer.ggml." + idKey, out var id) && id is long index && index >= 0 && index < vocabulary.Length)
                    tokens[name] = vocabulary[index];
        return new CheckpointChatTemplate(templates, tokens, clock, path);
    }
}
