using Tessera.Text.Templates;

namespace Tessera.Runtime.Tests.Text.Templates;

/// <summary>A hostile template fails within bounds (steps, output, nesting, time) instead of hanging or exhausting the server.</summary>
public sealed class LimitTests
{
    [Fact]
    public void NestedLoopsPastTheStepLimit_Fail() =>
        Assert.Contains("loop iterations", Jinja.Fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            limits: new TemplateLimits { MaxSteps = 100_000 }).Message);

    [Fact]
    public void OutputPastTheLimit_Fails() =>
        Assert.Contains("characters", Jinja.Fails("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", limits: new TemplateLimits { MaxOutputChars = 100_000 }).Message);

    [Fact]
    public void AHugeStringRepetition_Fails_BeforeAllocating() =>
        Assert.Contains("more than the limit", Jinja.Fails("{{ 'x' * 100000000000 }}").Message);

    [Fact]
    public void UnboundedRecursion_Fails_AtTheDepthLimit() =>
        Assert.Contains("deeper than", Jinja.Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").Message);

    [Fact]
    public void DeeplyNestedSyntax_Fails_WithoutOverflowingTheStack() =>
        Assert.Contains("nests deeper", Jinja.Fails("{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}").Message);

    [Fact]
    public void DeeplyNestedValues_FailToCompareOrPrint_WithoutOverflowingTheStack()
    {
        const string Nest = "{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}";
        Assert.Contains("nest too deeply", Jinja.Fails(Nest + "{{ ns.x == [ns.x] }}").Message);
        Assert.Contains("nests too deeply", Jinja.Fails(Nest + "{{ ns.x }}").Message);
        Assert.Contains("nests too deeply", Jinja.Fails(Nest + "{{ ns.x | tojson }}").Message);
    }

    [Fact]
    public void RangePastJinjasSandboxLimit_Fails() =>
        Assert.Contains("range() is too big", Jinja.Fails("{{ range(1000000) | length }}").Message);

    [Fact]
    public void ARenderPastItsTime_Fails() =>
        Assert.Contains("longer than", Jinja.Fails("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            limits: new TemplateLimits { Timeout = TimeSpan.FromMilliseconds(50), MaxSteps = long.MaxValue }).Message);
}
