namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>The filters chat templates use, with Jinja2 3.1's behaviour and Hugging Face's tojson (json.dumps, ensure_ascii=False).</summary>
public sealed class FilterTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{{ '  hi  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ '\\n\\t x \\n' | trim }}", "{}", "hi|hi|x" },
        { "{{ 'hello world' | upper }} {{ 'HeLLo' | lower }} {{ 'hello big-world (x)' | title }} {{ 'hELLO wORLD' | capitalize }}", "{}", "HELLO WORLD hello Hello Big-World (X) Hello world" },
        { "{{ [1, 2, 3] | length }} {{ 'héllo🎉' | length }} {{ {'a': 1} | count }} {{ missing | length }}", "{}", "3 6 1 0" },
        { "{{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'c'] | sort }} {{ 'abc' | first }}", "{}", "3 2 [1, 2, 3] [3, 2, 1] ['A', 'b', 'c'] a" },
        { "{{ ms | sort(attribute='n') | map(attribute='n') | list }} {{ ms | map(attribute='missing', default='d') | list }}", """{"ms": [{"n": 2}, {"n": 1}]}""", "[1, 2] ['d', 'd']" },
        { "{{ [1, 2, 3] | join(', ') }} {{ ['a', 'b'] | join }} {{ ms | join('-', attribute='n') }}", """{"ms": [{"n": 2}, {"n": 1}]}""", "1, 2, 3 ab 2-1" },
        { "[{{ missing | default('d') }}] [{{ '' | default('d') }}] [{{ '' | default('d', true) }}] [{{ none | d('n') }}] [{{ missing | d }}]", "{}", "[d] [] [d] [None] []" },
        { "{{ v | tojson }}", """{"v": {"s": "é\"\n<\u0001/", "n": [1, 2.5, true, null, -0.0, 1e100], "e": {}, "l": []}}""",
          "{\"s\": \"é\\\"\\n<\\u0001/\", \"n\": [1, 2.5, true, null, -0.0, 1e+100], \"e\": {}, \"l\": []}" },
        { "{{ v | tojson(indent=2) }}", """{"v": {"a": [1, {"b": null}], "c": {}}}""", "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}" },
        { "{{ {'b': 1, 'a': [1, 2]} | tojson(separators=(',', ':'), sort_keys=true) }} {{ 'x' | tojson }} {{ none | tojson }} {{ {1: 2} | tojson }}", "{}", "{\"a\":[1,2],\"b\":1} \"x\" null {\"1\": 2}" },
        { "{% for k, v in {'x': 1, 'y': 2} | items %}{{ k }}{{ v }}{% endfor %}{{ missing | items | list }}", "{}", "x1y2[]" },
        { "{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }}", "{}", "a+b+c bba" },
        { "{{ '42' | int + 1 }} {{ '3.9' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ '2.5' | float }} {{ 7 | float }} {{ 3.7 | int }} {{ true | int }}", "{}", "43 3 0 7 2.5 7.0 3 1" },
        { "{{ ms | selectattr('role', 'equalto', 'user') | map(attribute='content') | join(',') }} {{ ms | rejectattr('role', '==', 'user') | map(attribute='content') | list }} {{ ms | map(attribute='role') | unique | list }} {{ ms | selectattr('content') | list | length }} {{ ms | selectattr('tool_calls', 'defined') | list | length }}",
          """{"ms": [{"role": "system", "content": "s"}, {"role": "user", "content": "u1"}, {"role": "user", "content": ""}]}""", "u1, ['s'] ['system', 'user'] 2 0" },
        { "{{ [1, 2] | map('string') | join('+') }} {{ ['a', 'b'] | map('upper') | list }} {{ [1, 2, 3, 4] | select('even') | list }} {{ [1, 2, 3] | reject('equalto', 2) | list }}", "{}", "1+2 ['A', 'B'] [2, 4] [1, 3]" },
        { "{{ 'abc' | reverse }} {{ [1, 2, 3] | reverse | list }} {{ ['a', 'A', 'b', 'a'] | unique | list }} {{ ['a', 'A'] | unique(case_sensitive=true) | list }}", "{}", "cba [3, 2, 1] ['a', 'b'] ['a', 'A']" },
        { "{{ 2.5 | round }} {{ 3.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 7 | round }} {{ 2.9 | round(0, 'floor') }} {{ -5 | abs }} {{ -2.5 | abs }}", "{}", "2.0 4.0 3.14 3.0 7 2.0 5 2.5" },
        { "{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent('> ', blank=true) }}", "{}", "a\n  b\n\n  c|  a\n  b|a\n> \n> b" },
        { "{{ 'one two, three' | wordcount }} {{ 12 | string ~ 'x' }} {{ '<b>' | safe }} {{ 'ab' | list }} {{ {'b': 1, 'a': 2} | dictsort }} {{ [1, 2, 3] | sum }} {{ [3, 1] | max }} {{ [3, 1] | min }}", "{}", "3 12x <b> ['a', 'b'] [('a', 2), ('b', 1)] 6 3 1" },
        { "{{ '<a href=\"x\">&\\'' | e }}", "{}", "&lt;a href=&#34;x&#34;&gt;&amp;&#39;" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Filters_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));
}
