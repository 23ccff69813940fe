using System.Text.Json;
using Tessera.Checkpoints;

namespace Tessera.Runtime.Tests.Checkpoints;

/// <summary>How messages show text read from checkpoint files: escaped so it cannot drive the terminal, cut so it stays short.</summary>
public sealed class FileTextTests
{
    [Theory]
    [InlineData("llama", "\"llama\"")]
    [InlineData("llama\u001b[31m", "\"llama\\u001b[31m\"")]
    [InlineData("a\nb\tc\r", "\"a\\nb\\tc\\r\"")]
    [InlineData("say \"hi\" \\o/", "\"say \\\"hi\\\" \\\\o/\"")]
    [InlineData("si\u202elu\u200b", "\"si\\u202elu\\u200b\"")]
    [InlineData("line\u2028separator", "\"line\\u2028separator\"")]
    [InlineData("ünïcödé 😀", "\"ünïcödé 😀\"")]
    public void Quoted_EscapesWhatCouldDriveATerminal_AndKeepsPrintableText(string text, string expected) =>
        Assert.Equal(expected, FileText.Quoted(text));

    [Fact]
    public void Quoted_EscapesALoneSurrogate()
    {
        // Not an [InlineData] row: the test runner's serialisation of case arguments replaces a lone surrogate with U+FFFD.
        Assert.Equal("\"lone \\ud800 surrogate\"", FileText.Quoted("lone \ud800 surrogate"));
    }

    [Fact]
    public void Quoted_CutsLongText_SayingHowLongItWas()
    {
        string shown = FileText.Quoted(new string('x', 100_000));

        Assert.Equal("\"" + new string('x', FileText.MaxShown) + "... (100,000 characters)\"", shown);
    }

    [Fact]
    public void Quoted_NeverCutsASurrogatePairInTwo()
    {
        string text = new string('x', FileText.MaxShown - 1) + "😀" + new string('y', 10);

        Assert.StartsWith("\"" + new string('x', FileText.MaxShown - 1) + "😀...", FileText.Quoted(text));
    }

    [Fact]
    public void Json_ShowsAValueCompactly_Escaped()
    {
        using var doc = JsonDocument.Parse("{\"a\": [1, \n 2], \"b\": \"x\\u001by\"}");

        Assert.Equal("{\"a\":[1,2],\"b\":\"x\\u001By\"}", FileText.Json(doc.RootElement));
    }

    /// <summary>Issue 28, found by the fuzz: the serializer throws JsonException for a lone surrogate, which reached the console.</summary>
    [Theory]
    [InlineData("\"llama\\udc00\"")]
    [InlineData("[\"\\udfff\"]")]
    public void Json_OfAValueWithALoneSurrogateEscape_ShowsItAsTheFileHasIt(string json)
    {
        using var doc = JsonDocument.Parse(json);

        Assert.Equal(json, FileText.Json(doc.RootElement));
    }

    [Fact]
    public void Escaped_KeepsFreeTextLongerThanAValue_ButNotUnbounded()
    {
        string message = new string('m', 300);

        Assert.Equal(message, FileText.Escaped(message));
        Assert.EndsWith("... (10,000 characters)", FileText.Escaped(new string('m', 10_000)));
    }
}
