namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>Literals, operators with Python's semantics and Jinja2's precedence, slicing, attribute and item access.</summary>
public sealed class ExpressionTests
{
    public static readonly TheoryData<string, string, string> Cases = new()
    {
        { "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 10 - 2 - 3 }} {{ 2 ** 3 ** 2 }}", "{}", "7 9 5 64" },
        { "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 4 / 2 }}", "{}", "3 -4 1 2 3.5 1024 2.0" },
        { "{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 3.0 }} {{ 1 / 3 }} {{ 1e16 }} {{ 123456789.5 }}", "{}", "0.30000000000000004 1e+20 1.5e-07 3.0 0.3333333333333333 1e+16 123456789.5" },
        { "{{ 'a' ~ 1 ~ none ~ true ~ missing }} {{ 'ab' * 3 }} {{ 'x' + 'y' }}", "{}", "a1NoneTrue ababab xy" },
        { "{{ [1, 2] + [3] }} {{ {'a': 1, 'b': [true, none, 'it\\'s']} }} {{ (1, 'b') }} {{ (1,) }} {{ () }}", "{}", "[1, 2, 3] {'a': 1, 'b': [True, None, \"it's\"]} (1, 'b') (1,) ()" },
        { "{{ True }} {{ False }} {{ None }} {{ true }} {{ none }}", "{}", "True False None True None" },
        { "{{ '%s and %d' % ('a', 3) }} {{ 'x=%s' % 1 }} {{ '%05.2f|%-4s|%3d|%%|%r' % (3.14159, 'ab', 7, 'q') }} {{ '%(k)s!' % {'k': 'v'} }}", "{}", "a and 3 x=1 03.14|ab  |  7|%|'q' v!" },
        { "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ 'a' != 'a' }}", "{}", "True False True True True True False" },
        { "{{ 'ell' in 'hello' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ not 1 }} {{ not not 'x' }}", "{}", "True False True False True" },
        { "{{ 'yes' if 0 else 'no' }} [{{ 'x' if true }}] [{{ 'x' if false }}] {{ 'a' if false else 'b' if true else 'c' }}", "{}", "no [x] [] b" },
        { "{{ none or 'fallback' }} {{ 0 and 1 }} {{ 'a' and 'b' }} {{ [] or {} }}", "{}", "fallback 0 b {}" },
        { "{{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ [1, 2, 3, 4][1:] }} {{ [1, 2, 3, 4][-2:] }} {{ [1, 2, 3, 4][::2] }} {{ 'héllo🎉'[-1] }} {{ [1, 2, 3][:-1] }} {{ 'abc'[5:] }}", "{}", "el olleh [2, 3, 4] [3, 4] [1, 3] 🎉 [1, 2] " },
        { "{{ m.role }} {{ m['role'] }} {{ m.n[1] }} {{ m.n.0 }} {{ m.n[-1] }} [{{ m.missing }}] [{{ m.n[7] }}] {{ m.missing is defined }}", """{"m": {"role": "user", "n": [10, 20]}}""", "user user 20 10 20 [] [] False" },
        { "{{ 'a\\nb\\t\\'c\\' \\\"d\\\" \\\\ \\u00e9 \\x41' }}", "{}", "a\nb\t'c' \"d\" \\ é A" },
        { "{{ \"adjacent\" ' strings' }} {{ -3 | abs }} {{ -(2 + 1) }} {{ 1_000 + 1 }}", "{}", "adjacent strings 3 -3 1001" },
        { "{{ n }} {{ f }} {{ n + f }} {{ big }} {{ neg }} {{ t }} {{ z }}", """{"n": 3, "f": 2.5, "big": 12345678901234, "neg": -0.0, "t": true, "z": null}""", "3 2.5 5.5 12345678901234 -0.0 True None" },
        { "{{ messages[0].content }}|{{ messages[-1]['role'] }}|{{ messages | length }}", """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null}]}""", "hi|assistant|2" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Evaluates_AsJinja2Does(string template, string variables, string expected) =>
        Assert.Equal(expected, Jinja.Render(template, variables));
}
