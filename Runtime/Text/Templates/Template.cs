using System.Text.Json.Nodes;

namespace Tessera.Text.Templates;

/// <summary>
/// A Jinja2 template, parsed once and rendered many times: the subset of Jinja2 that Hugging Face chat templates use,
/// rendered exactly as transformers' <c>apply_chat_template</c> renders them (an ImmutableSandboxedEnvironment with
/// <c>trim_blocks</c>, <c>lstrip_blocks</c> and the loopcontrols extension; its <c>tojson</c>, <c>raise_exception</c> and
/// <c>strftime_now</c>). No maintained .NET Jinja2 engine exists (Fluid and Scriban are Liquid), so this is our own
/// interpreter, as llama.cpp (minja, then common/jinja) and transformers.js (@huggingface/jinja) wrote theirs.
/// <para>
/// Language: text with <c>{{ expr }}</c>, <c>{% stmt %}</c> and <c>{# comment #}</c>, <c>-</c>/<c>+</c> whitespace
/// control; if/elif/else, for (loop.*, <c>if</c> filter, else, tuple unpacking, break/continue), set (block set,
/// namespace attributes), macro and call blocks, filter blocks; Python's literals, operators, slicing and the str and
/// dict methods templates call; Jinja2's undefined (falsy, prints empty; looking inside it is an error). Out: includes,
/// inheritance, recursive loops, autoescape. Every render is bounded by <see cref="TemplateLimits"/>.
/// </para>
/// <para>A parsed template is immutable: one instance renders concurrent requests.</para>
/// </summary>
/// <example>
/// <code>
/// var template = Template.Parse("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
/// string text = template.Render(new Dictionary&lt;string, JsonNode?&gt; { ["messages"] = JsonNode.Parse("""[{"role":"user","content":"hi"}]""") });
/// </code>
/// </example>
public sealed class Template
{
    private readonly IReadOnlyList<Stmt> _body;

    private Template(IReadOnlyList<Stmt> body, TemplateLimits limits)
    {
        _body = body;
        Limits = limits;
    }

    public TemplateLimits Limits { get; }

    /// <summary>Parses <paramref name="source"/>; a syntax error throws <see cref="TemplateException"/> with its line and column.</summary>
    public static Template Parse(string source, TemplateLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= TemplateLimits.Default;
        if (source.Length > limits.MaxOutputChars) throw new TemplateException($"the template is longer than {limits.MaxOutputChars} characters");
        return new Template(Parser.Parse(source, limits.MaxDepth), limits);
    }

    /// <summary>
    /// Renders with these variables (JSON values, read as Python's json.loads reads them) besides the globals;
    /// <paramref name="clock"/> is what <c>strftime_now</c> reads (default: the system's local time).
    /// </summary>
    public string Render(IReadOnlyDictionary<string, JsonNode?> variables, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        clock ??= TimeProvider.System;
        var globals = new Scope(null);
        Globals.AddTo(globals, clock);
        var scope = new Scope(globals);
        foreach (var (name, value) in variables) scope.Set(name, JsonValues.FromJson(value));
        return new Evaluator(Limits, clock).Render(_body, scope);
    }
}
