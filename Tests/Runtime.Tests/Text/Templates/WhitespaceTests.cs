using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Whitespace as Hugging Face's Jinja2 environment leaves it: trim_blocks drops the newline after a block or comment
/// tag, lstrip_blocks drops the indentation before one alone on its line, '-' strips a side, '+' keeps it, newlines are
/// normalized and one trailing newline of the template is dropped. Every expectation here is Jinja2's (checked live by
/// <see cref="LiveJinja2ParityTests"/> where /usr/bin/python3 has jinja2).
/// </summary>
public sealed class WhitespaceTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{% if true %}\n  yes\n{% endif %}\n", "{}", "  yes\n" },
        { "a\n    {% if true %}\n    b\n    {% endif %}\nc", "{}", "a\n    b\nc" },
        { "a  {%- if true -%}  b  {%- endif -%}  c", "{}", "abc" },
        { "x {{ 1 }} \n {{- 2 -}} \n y", "{}", "x 12y" },
        { "{{ 'a' }}\n{{ 'b' }}", "{}", "a\nb" },
        { "{# a comment #}\nx", "{}", "x" },
        { "  {%+ if true %}x{% endif %}", "{}", "  x" },
        { "a\r\nb\n", "{}", "a\nb" },
        { "{% for i in [1, 2] %}\n{{ i }}\n{% endfor %}\n", "{}", "1\n2\n" },
        { "  {{ 'v' }}", "{}", "  v" },
        { "a {% if true %}b{% endif %}", "{}", "a b" },
        { "{% for m in ms %}\n    {%- if m %}\n        {{- m }}\n    {%- endif %}\n{% endfor %}", """{"ms": ["x", "", "y"]}""", "xy" },
        { "line\n\n\n", "{}", "line\n\n" },
        { "a\n  {% raw %}\n{{ not evaluated }} {% if %}\n  {% endraw %}\nb", "{}", "a\n\n{{ not evaluated }} {% if %}\nb" },
        { "a {%- raw -%} {{ x }} {%- endraw -%} b", "{}", "a{{ x }}b" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void RendersWhitespace_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));
}
