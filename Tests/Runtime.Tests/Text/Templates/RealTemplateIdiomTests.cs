namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Constructs the real chat templates use (Llama 3.x, Mistral, Qwen 2.5/3, Hermes, Llama 2 and DeepSeek idioms: tools
/// and tool calls, content as parts, namespace bookkeeping over reversed messages, recursive macros, tojson with
/// indent), on an OpenAI-shaped conversation. The expectations were rendered by jinja2 in transformers' environment and
/// are checked against it live by <see cref="LiveJinja2ParityTests"/>.
/// </summary>
public sealed class RealTemplateIdiomTests
{
    private const string Conversation = """
        {
          "messages": [
            {"role": "system", "content": "  Sys.  "},
            {"role": "user", "content": [{"type": "text", "text": "A"}, {"type": "image"}, {"type": "text", "text": "B"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "abcdefghi", "type": "function", "function": {"name": "f", "arguments": {"x": 1, "y": [1, "two"]}}}]},
            {"role": "tool", "content": "ok"},
            {"role": "user", "content": "last"}
          ],
          "tools": [
            {"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "array", "items": {"type": "string"}}}, "required": ["x"]}}}
          ]
        }
        """;

    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{%- set tools_in_user_message = true if tools_in_user_message is not defined else tools_in_user_message %}{{ tools_in_user_message }}", "{}", "True" },
        { "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{% endif %}[{{ system_message }}]{{ messages | length }}", Conversation, "[Sys.]4" },
        { "{% for m in messages %}{% if m.tool_calls is defined and m.tool_calls is not none %}{% for tool_call in m.tool_calls %}{% if tool_call.function is defined %}{% set tool_call = tool_call.function %}{% endif %}{{ tool_call.name }}({{ tool_call.arguments | tojson }}){% for k, v in tool_call.arguments.items() %};{{ k }}={{ v }}{% endfor %}{% endfor %}{% endif %}{% endfor %}", Conversation, "f({\"x\": 1, \"y\": [1, \"two\"]});x=1;y=[1, 'two']" },
        { "{% for m in messages %}{% if m.tool_calls %}{% for t in m.tool_calls %}{% if not (t.id is defined and t.id|length == 9) %}bad{% else %}{{ t.id }}{% endif %}{{ ',' if not loop.last }}{% endfor %}{% endif %}{% endfor %}", Conversation, "abcdefghi" },
        { "{% for m in messages %}{% if m.content is not string and m.content is not none %}{{ m.content | selectattr('type', 'equalto', 'text') | map(attribute='text') | join('\\n') }}{% endif %}{% endfor %}", Conversation, "A\nB" },
        { "{{ (messages | selectattr('role', 'equalto', 'user') | list | last).content }}|{{ messages | map(attribute='role') | join(', ') }}", Conversation, "last|system, user, assistant, tool, user" },
        { "{% if tools is not none and tools|length > 0 %}{% for tool in tools %}{% set tool = tool.function %}{{ tool.name }}:{{ tool.parameters.properties | tojson }}{% for name, spec in tool.parameters.properties | dictsort %}[{{ name }} {{ spec['items'] is defined }} {{ spec['items']['type'] if spec['items'] is mapping }}]{% endfor %}{% endfor %}{% endif %}", Conversation, "f:{\"x\": {\"type\": \"integer\"}, \"y\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}[x True ][y True string]" },
        { "{{ tools | tojson(indent=4) }}", Conversation, "[\n    {\n        \"type\": \"function\",\n        \"function\": {\n            \"name\": \"f\",\n            \"description\": \"d\",\n            \"parameters\": {\n                \"type\": \"object\",\n                \"properties\": {\n                    \"x\": {\n                        \"type\": \"integer\"\n                    },\n                    \"y\": {\n                        \"type\": \"array\",\n                        \"items\": {\n                            \"type\": \"string\"\n                        }\n                    }\n                },\n                \"required\": [\n                    \"x\"\n                ]\n            }\n        }\n    }\n]" },
        { "{{ date_string | default(strftime_now('%d %b %Y')) }} {{ \"%s, %s\" | format('a', 1) }} {{ 'a\\nb' | replace('\\n', '\\\\n') }}", "{}", "02 Jan 2026 a, 1 a\\nb" },
        { "{% for m in messages %}{%- if m.role == 'user' or (m.role == 'system' and not loop.first) %}{{ '[' ~ loop.index ~ ']' }}{% endif %}{% endfor %}{{ [1, 2, 3][1:][0] }} {{ 5 | string + 'x' }}", Conversation, "[2][5]2 5x" },
        { "{%- set ns = namespace(last=-1) %}{%- for m in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.last == -1 and m.role == 'user' %}{%- set ns.last = index %}{%- endif %}{%- endfor %}{{ ns.last }}", Conversation, "4" },
        { "{{ messages[2].content is none }} {{ messages[2].content | string }} {{ messages[0].content.strip().lower().startswith('sys') }} {{ messages[9] is defined }} {{ messages[-1]['content'][-2:] }}", Conversation, "True None True False st" },
        { "{{ {'a': [1, {'b': None, 'c': 1.5, 'd': '\u00e9'}], 'e': true} | tojson }} {{ {'a': 1} | tojson(separators=(',', ':')) }} {{ [] | tojson(indent=2) }} {{ 'q\"' | tojson }}", "{}", "{\"a\": [1, {\"b\": null, \"c\": 1.5, \"d\": \"\u00e9\"}], \"e\": true} {\"a\":1} [] \"q\\\"\"" },
        { "{% for x in range(3) if x != 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.revindex }} {% else %}none{% endfor %}{% for x in range(0) %}{% else %}empty{% endfor %}", "{}", "1/22 2/21 empty" },
        { "{% set s = 'Hello World' %}{{ s[0] }}{{ s[-1] }}{{ s[:5] | upper }}{{ s.split(' ') | reverse | join(' ') }}{{ s | wordcount }}{{ s.lower().replace('o', '0') }}{{ s.endswith('ld') }}", "{}", "HdHELLOWorld Hello2hell0 w0rldTrue" },
        { "{{ 1 + 2.0 }} {{ 3 * 'ab' }} {{ 10 % 4 }} {{ 2 ** 0.5 }} {{ -5 // 3 }} {{ 5 / 2 | int }} {{ (5 / 2) | int }} {{ 1 == true }} {{ 0 == false }} {{ 'a' ~ 2.50 }}", "{}", "3.0 ababab 2 1.4142135623730951 -2 2.5 2 True True a2.5" },
        { "{% macro fmt(t, indent=0) %}{{ ' ' * indent }}{{ t.name }}{% if t.children %}{% for c in t.children %}\n{{ fmt(c, indent + 2) }}{% endfor %}{% endif %}{% endmacro %}{{ fmt(tree) }}", "{\"tree\": {\"name\": \"a\", \"children\": [{\"name\": \"b\", \"children\": [{\"name\": \"c\"}]}, {\"name\": \"d\"}]}}", "a  b    c  d" },
        { "{%- for m in messages %}\n    {%- if m.role == 'system' %}\n        {{- '<<SYS>>\\n' + m.content | trim + '\\n<</SYS>>\\n\\n' }}\n    {%- elif m.role == 'user' %}\n        {{- '[INST] ' + (m.content if m.content is string else 'parts') + ' [/INST]' }}\n    {%- endif %}\n{%- endfor %}\n", Conversation, "<<SYS>>\nSys.\n<</SYS>>\n\n[INST] parts [/INST][INST] last [/INST]" },
        { "{{ x is string }}{{ x is number }}{{ x is iterable }}{{ x is mapping }}{{ x is sequence }}|{{ y }}|{{ y is none }}", "{\"x\": {\"k\": 1}, \"y\": null}", "FalseFalseTrueTrueTrue|None|True" },
        { "{% set d = {'b': 2, 'a': 1} %}{{ d | dictsort }}{{ d.keys() | list | sort }}{{ d | length }}{{ 'a' in d }}{{ d.get('z', 0) + 1 }}{{ d['a'] }}{{ d.a }}", "{}", "[('a', 1), ('b', 2)]['a', 'b']2True111" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void RendersTheIdiom_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));
}
