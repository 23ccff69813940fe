using Tessera.Generation.Grammars;
using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>Grammars over bytes: which byte strings are sentences, which are prefixes of one, and which grammars are refused.</summary>
public sealed class GrammarTests
{
    private static Grammar Of(GrammarExpression root) => new GrammarBuilder().Build(root);

    [Fact]
    public void Literals_Sequences_AndChoices_MatchExactlyTheirStrings()
    {
        var grammar = Of(Seq(Exactly("a"), Either(Exactly("bc"), Exactly("d")), Exactly("!")));
        Assert.True(grammar.Accepts("abc!"));
        Assert.True(grammar.Accepts("ad!"));
        Assert.False(grammar.Accepts("ab!"));
        Assert.True(grammar.IsPrefix("ab"));
        Assert.False(grammar.IsPrefix("ax"));
        Assert.False(grammar.Accepts("abc"));
    }

    [Theory]
    [InlineData(0, null, "", true)]
    [InlineData(0, null, "xxxxxxxxxx", true)]
    [InlineData(2, 3, "x", false)]
    [InlineData(2, 3, "xx", true)]
    [InlineData(2, 3, "xxx", true)]
    [InlineData(2, 3, "xxxx", false)]
    [InlineData(1, null, "", false)]
    public void Repetitions_MatchBetweenTheirBounds(int min, int? max, string text, bool accepted) =>
        Assert.Equal(accepted, Of(Times(Exactly("x"), min, max)).Accepts(text));

    [Fact]
    public void RulesMayRecurse_ThroughReferences()
    {
        var rules = new GrammarBuilder();
        rules.Declare("parens");
        rules.Define("parens", Either(Seq(Exactly("("), Rule("parens"), Exactly(")")), Empty));
        var grammar = rules.Build(Rule("parens"));
        Assert.True(grammar.Accepts("((()))"));
        Assert.False(grammar.Accepts("(()"));
        Assert.True(grammar.IsPrefix("((("));
        Assert.False(grammar.IsPrefix("())"));
    }

    [Theory]
    [InlineData("é")]        // 2 bytes
    [InlineData("€")]        // 3 bytes
    [InlineData("😀")]       // 4 bytes
    [InlineData("\uD7FF")]  // just below the surrogates
    [InlineData("\uE000")]  // just above them
    public void AnyCharacter_AcceptsEveryValidUtf8Encoding(string character) =>
        Assert.True(Of(Utf8.Chars(0x80, 0x10FFFF)).Accepts(character));

    [Theory]
    [InlineData(new byte[] { 0xC0, 0x80 })]             // overlong NUL
    [InlineData(new byte[] { 0xE0, 0x80, 0x80 })]       // overlong
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]       // a surrogate (U+D800)
    [InlineData(new byte[] { 0xF4, 0x90, 0x80, 0x80 })] // above U+10FFFF
    [InlineData(new byte[] { 0x80 })]                   // a lone continuation byte
    public void AnyCharacter_RefusesInvalidUtf8(byte[] bytes) =>
        Assert.False(Of(Utf8.Chars(0, 0x10FFFF)).Accepts(bytes));

    [Fact]
    public void ACodePointRange_MatchesExactlyItsCharacters()
    {
        var greek = Of(Utf8.Chars('α', 'ω'));
        Assert.True(greek.Accepts("α"));
        Assert.True(greek.Accepts("ω"));
        Assert.False(greek.Accepts("Ω"));
        Assert.False(greek.Accepts("a"));
    }

    [Fact]
    public void LeftRecursion_IsRefused_AndRightRecursionIsNot()
    {
        var left = new GrammarBuilder();
        left.Declare("list");
        left.Define("list", Either(Seq(Rule("list"), Exactly("x")), Exactly("x")));
        Assert.Contains("left-recursive", Assert.Throws<ArgumentException>(() => left.Build(Rule("list"))).Message);

        var right = new GrammarBuilder();
        right.Declare("list");
        right.Define("list", Either(Seq(Exactly("x"), Rule("list")), Exactly("x")));
        Assert.True(right.Build(Rule("list")).Accepts("xxxx"));
    }

    [Fact]
    public void AnUndefinedRule_IsRefused()
    {
        var rules = new GrammarBuilder();
        Assert.Contains("'missing'", Assert.Throws<ArgumentException>(() => rules.Build(Rule("missing"))).Message);
    }
}
