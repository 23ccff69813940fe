namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>if/elif/else, for (loop variables, filter, else, unpacking, break/continue), set and its scoping, namespace, macros, call and filter blocks, globals.</summary>
public sealed class StatementTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %} {% endfor %}", "{}", "one two many " },
        { "{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ x }};{% endfor %}", "{}",
          "1032TrueFalse3a;2121FalseFalse3b;3210FalseTrue3c;" },
        { "{% for x in [1, 2, 3, 4, 5] if x is odd %}{{ x }}{{ loop.index }}{% if not loop.last %},{% endif %}{% endfor %}", "{}", "11,32,53" },
        { "{% for x in [] %}x{% else %}empty{% endfor %}|{% for x in missing %}x{% else %}none{% endfor %}", "{}", "empty|none" },
        { "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for (a, b) in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}", """{"d": {"a": 1, "b": 2}}""", "a=1;b=2;ab37" },
        { "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", "{}", "0134" },
        { "{% for i in [1, 2] %}{% for j in [1, 2] %}{% if j == 2 %}{% break %}{% endif %}{{ i }}{{ j }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}", "{}", "111 1|211 2|" },
        { "{% for x in 'ab' %}{{ x }}{{ loop.previtem is defined }}{{ loop.nextitem | default('-') }}{{ loop.cycle('o', 'e') }} {% endfor %}", "{}", "aFalsebo bTrue-e " },
        { "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}[{{ x }}]{% endfor %}{{ x }}{% if true %}{% set x = 3 %}{% endif %}{{ x }}", "{}", "[2]13" },
        { "{% set x = 'outer' %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{{ x }}{% endfor %}{{ x }}", "{}", "[outer]1[outer]2outer" },
        { "{% macro m() %}{{ y }}{% endmacro %}{% set y = 5 %}{{ m() }}", "{}", "5" },
        { "{% set ns = namespace(found=false, n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }} {{ ns.n }}", "{}", "True 6" },
        { "{% set greeting %}Hello {{ name }}{% endset %}[{{ greeting | upper }}]{% set x | trim %}  padded  {% endset %}[{{ x }}]", """{"name": "Bo"}""", "[HELLO BO][padded]" },
        { "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = 1, %}{{ t }}", "{}", "12(1,)" },
        { "{% macro tag(name, value='none', sep=': ') %}{{ name }}{{ sep }}{{ value }}{% endmacro %}{{ tag('a') }}|{{ tag('b', 2) }}|{{ tag('c', sep='=', value=3) }}", "{}", "a: none|b: 2|c=3" },
        { "{% macro render(m) %}{{ m.role }}{% if m.content %}: {{ m.content }}{% endif %}{% endmacro %}{% for m in ms %}{{ render(m) }};{% endfor %}", """{"ms": [{"role": "a", "content": "x"}, {"role": "b"}]}""", "a: x;b;" },
        { "{% macro count(n) %}{% if n > 0 %}{{ n }}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}", "{}", "321" },
        { "{% macro box(title) %}[{{ title }}: {{ caller() }}]{% endmacro %}{% call box('t') %}inside {{ 1 + 1 }}{% endcall %}", "{}", "[t: inside 2]" },
        { "{% filter upper %}shout {{ 'this' }}{% endfilter %}", "{}", "SHOUT THIS" },
        { "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ range(0) | list }}", "{}", "[0, 1, 2] [1, 4, 7] [5, 3, 1] []" },
        { "{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", "{}", "{'a': 1, 'b': 'x'} 1" },
        { "{{ strftime_now('%d %b %Y %H:%M:%S %A %B %j %p %y-%m-%d') }}", "{}", "02 Jan 2026 03:04:05 Friday January 002 AM 26-01-02" },
        { "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ add_generation_prompt }}", "{}", "False" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Executes_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));

    [Fact]
    public void GenerationBlock_RendersItsBody_AsTransformersAssistantTrackerDoes() =>
        Assert.Equal("<|assistant|>hi<|end|>", Jinja.Render("<|assistant|>{% generation %}{{ 'hi' }}{% endgeneration %}<|end|>"));
}
