using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>
/// Jinja2's default undefined (falsy, prints empty, iterates empty; looking inside it is an error), and errors as one
/// clear line with the template position: syntax errors, unknown filters and tests, Python's type errors, the
/// template's own raise_exception.
/// </summary>
public sealed class UndefinedAndErrorTests
{
    [Fact]
    public void Undefined_PrintsEmpty_IsFalsy_IteratesEmpty_AndConcatenatesAsEmpty() =>
        Assert.Equal("[]|no|0|a", Jinja.Render("[{{ missing }}]|{% if missing %}yes{% else %}no{% endif %}{% for x in missing %}x{% endfor %}|{{ missing | length }}|{{ missing ~ 'a' }}"));

    [Fact]
    public void MissingAttribute_IsUndefined_ButLookingInsideIt_IsAnError()
    {
        Assert.Equal("", Jinja.Render("{{ m.content }}", """{"m": {}}"""));
        var e = Jinja.Fails("{{ m.content.strip() }}", """{"m": {}}""");
        Assert.Contains("'dict object' has no attribute 'content'", e.Message);
        Assert.Equal(1, e.Line);
    }

    [Fact]
    public void CallingAnUndefinedName_SaysWhatIsUndefined()
    {
        var e = Jinja.Fails("line one\n{{ nothing_here(1) }}");
        Assert.Contains("'nothing_here' is undefined", e.Message);
        Assert.Equal(2, e.Line);
    }

    [Fact]
    public void ArithmeticOnUndefined_OrMixedTypes_IsAnError()
    {
        Assert.Contains("'missing' is undefined", Jinja.Fails("{{ missing + 1 }}").Message);
        Assert.Contains("unsupported operand type(s) for +: 'str' and 'int'", Jinja.Fails("{{ 'a' + 1 }}").Message);
        Assert.Contains("'NoneType' object is not iterable", Jinja.Fails("{% for x in none %}{% endfor %}").Message);
        Assert.Contains("argument of type 'NoneType' is not iterable", Jinja.Fails("{{ 'a' in none }}").Message);
    }

    [Theory]
    [InlineData("{% if x %}never closed", "never closed", 1)]
    [InlineData("{{ 1 + }}", "unexpected '}}'", 1)]
    [InlineData("a\n{% frobnicate %}", "unknown tag 'frobnicate'", 2)]
    [InlineData("{% endif %}", "unexpected 'endif'", 1)]
    [InlineData("{% for x in y %}{% endif %}", "unexpected 'endif'", 1)]
    [InlineData("{{ 'unterminated }}", "the string is never closed", 1)]
    [InlineData("{{ x ", "never closed", 1)]
    [InlineData("{{ x | no_such_filter }}", "unknown filter 'no_such_filter'", 1)]
    [InlineData("{{ x is no_such_test }}", "unknown test 'no_such_test'", 1)]
    [InlineData("{% for x in [1] recursive %}{% endfor %}", "recursive for loops are not supported", 1)]
    public void BadTemplates_FailWithOneLine_NamingWhereAndWhy(string template, string reason, int line)
    {
        var e = Jinja.Fails(template);
        Assert.Contains(reason, e.Message);
        Assert.Equal(line, e.Line);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(e.RaisedByTemplate);
    }

    [Fact]
    public void AnUnknownFilterOrTest_FailsWhenParsed_EvenInABranchNeverTaken()
    {
        Assert.Contains("unknown filter 'shout'", Assert.Throws<TemplateException>(() => Template.Parse("{% if false %}{{ x | shout }}{% endif %}")).Message);
        Assert.Contains("unknown test 'loud'", Assert.Throws<TemplateException>(() => Template.Parse("{% if false and x is loud %}{% endif %}")).Message);
    }

    [Fact]
    public void EveryFilterAndTestTheParserAccepts_TheEvaluatorKnows()
    {
        foreach (string name in Filters.Names)
        {
            var e = Record.Exception(() => Jinja.Render($"{{{{ 'a' | {name} }}}}"));
            Assert.False(e?.Message.Contains("unknown filter") == true, $"{name}: {e?.Message}");
        }
        foreach (string name in TestFunctions.Names.Where(n => char.IsLetter(n[0])))
        {
            var e = Record.Exception(() => Jinja.Render($"{{{{ 'a' is {name}('a') }}}}"));
            Assert.False(e?.Message.Contains("unknown test") == true, $"{name}: {e?.Message}");
        }
    }

    [Fact]
    public void RaiseException_ThrowsTheTemplatesMessage_MarkedAsRaisedByTheTemplate()
    {
        var e = Jinja.Fails("{% if messages | length == 0 %}{{ raise_exception('No messages given') }}{% endif %}", """{"messages": []}""");
        Assert.Equal("No messages given", e.Reason);
        Assert.True(e.RaisedByTemplate);
    }

    [Theory]
    [InlineData("{% macro check() %}{{ raise_exception('nope') }}{% endmacro %}{% if check() == '' %}{% endif %}")]
    [InlineData("{{ 'a' ~ raise_exception('nope') }}")]
    [InlineData("{{ [1] | map('string') | list if raise_exception('nope') }}")]
    [InlineData("{% for m in [1] %}{% set x %}{{ raise_exception('nope') }}{% endset %}{% endfor %}")]
    public void RaiseException_DeepInsideExpressionsAndBlocks_StaysMarkedAsRaisedByTheTemplate(string template)
    {
        var e = Jinja.Fails(template);
        Assert.Equal("nope", e.Reason);
        Assert.True(e.RaisedByTemplate);
    }

    [Fact]
    public void NamespaceAttributes_CanOnlyBeSetOnANamespace() =>
        Assert.Contains("is not a namespace()", Jinja.Fails("{% set d = {} %}{% set d.x = 1 %}").Message);
}
