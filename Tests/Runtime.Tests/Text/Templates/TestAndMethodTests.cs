namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>Tests (<c>x is defined</c>, <c>is string</c>, ...) with Python's types, and the str and dict methods templates call.</summary>
public sealed class TestAndMethodTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }}", """{"x": 1}""",
          "True True True True True True True True False True" },
        { "{{ {} is mapping }} {{ [] is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ true is boolean }} {{ true is true }} {{ 1 is true }} {{ false is false }}", "{}",
          "True False True True False True True True False True" },
        { "{{ 2 is equalto 2 }} {{ 2 is eq(3) }} {{ 'a' is in ['a'] }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ x is not none }} {{ x is not defined }} {{ 2 is ge 2 }} {{ 'ab' is lower }}", """{"x": 1}""",
          "True False True True True True True False True True" },
        { "{{ m.content is string }} {{ m.content is none }} {{ m.tool_calls is defined }} {{ m.parts is iterable }} {{ m.parts is not string }}", """{"m": {"content": null, "parts": [{"type": "text"}]}}""",
          "False True False True True" },
        { "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip().lower() }}|{{ s.upper() }}|{{ s.strip().startswith('Hello') }}|{{ s.strip().endswith(('x', 'd')) }}", """{"s": "  Hello, World  "}""",
          "Hello, World|Hello, World  |  Hello, World|hello, world|  HELLO, WORLD  |True|True" },
        { "{{ s.split(',') }}|{{ s.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ' a  b c '.split(None, 1) }}|{{ s.replace('l', 'L') }}|{{ s.find('World') }}|{{ s.find('nope') }}", """{"s": "  Hello, World  "}""",
          "['  Hello', ' World  ']|['Hello,', 'World']|['a', 'b,c']|['a,b', 'c']|['a', 'b c ']|  HeLLo, WorLd  |9|-1" },
        { "{{ 'hello world'.title() }}|{{ '{} and {}'.format('a', 'b') }}|{{ '{x}!'.format(x=1) }}|{{ c.split('</think>')[-1].lstrip('\\n') }}|{{ 'xxhixx'.strip('x') }}|{{ 'a b'.count(' ') }}|{{ ', '.join(['a', 'b']) }}",
          """{"c": "<think>x</think>\n\nanswer"}""", "Hello World|a and b|1!|answer|hi|1|a, b" },
        { "{{ d.get('a') }} {{ d.get('b') }} {{ d.get('c') }} {{ d.get('c', 'z') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d['get'] is defined }}", """{"d": {"a": 1, "b": null}}""",
          "1 None None z ['a', 'b'] [1, None] [('a', 1), ('b', None)] True" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void TestsAndMethods_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));
}
