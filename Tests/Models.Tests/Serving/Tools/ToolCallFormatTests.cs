using Tessera.Models.Serving.Tools;

namespace Tessera.Models.Tests.Serving.Tools;

/// <summary>
/// Reading tool calls back from what a model wrote, in each family's format: the calls with their arguments as JSON
/// text, the content around them, and an answer whose calls do not parse left whole as content (as vLLM does).
/// </summary>
public sealed class ToolCallFormatTests
{
    private static readonly ToolCallFormat Hermes = ToolCallFormat.Named("hermes")!;
    private static readonly ToolCallFormat Llama3 = ToolCallFormat.Named("llama3_json")!;
    private static readonly ToolCallFormat Mistral = ToolCallFormat.Named("mistral")!;

    [Fact]
    public void Hermes_ReadsEachBlock_AndTheTextBeforeAsContent()
    {
        var answer = Hermes.Parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
                                  + "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>");
        Assert.Equal("Let me check.", answer.Content);
        Assert.Equal([new ParsedToolCall("get_weather", "{\"city\": \"Paris\"}"), new ParsedToolCall("get_time", "{}")], answer.Calls);
    }

    [Fact]
    public void Hermes_TakesAnUnclosedLastBlock_AndArgumentsWrittenAsAString()
    {
        var answer = Hermes.Parse("<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 1}\"}");
        Assert.Null(answer.Content);
        Assert.Equal([new ParsedToolCall("f", "{\"x\": 1}")], answer.Calls);
    }

    [Theory]
    [InlineData("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": }\n</tool_call>")]
    [InlineData("<tool_call>\n{\"arguments\": {}}\n</tool_call>")]
    [InlineData("<tool_call>\n[1, 2]\n</tool_call>")]
    [InlineData("no call at all")]
    public void Hermes_AnAnswerWhoseCallsDoNotParse_IsAllContent(string text)
    {
        var answer = Hermes.Parse(text);
        Assert.Equal(text, answer.Content);
        Assert.Empty(answer.Calls);
    }

    [Fact]
    public void Llama3_ReadsTheJsonAnswer_OneOrSeveralSeparatedBySemicolons()
    {
        Assert.Equal([new ParsedToolCall("get_weather", "{\"city\": \"Paris\"}")],
            Llama3.Parse(" {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}").Calls);
        var two = Llama3.Parse("<|python_tag|>{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"arguments\": {\"k\": [1]}}");
        Assert.Null(two.Content);
        Assert.Equal([new ParsedToolCall("a", "{}"), new ParsedToolCall("b", "{\"k\": [1]}")], two.Calls);
    }

    [Theory]
    [InlineData("The answer is {\"name\": \"a\", \"parameters\": {}}")]
    [InlineData("{\"city\": \"Paris\"}")]
    [InlineData("{\"name\": \"a\", \"parameters\": {}} and more")]
    public void Llama3_OnlyAnAnswerThatIsCallsIsRead(string text)
    {
        var answer = Llama3.Parse(text);
        Assert.Equal(text, answer.Content);
        Assert.Empty(answer.Calls);
    }

    [Fact]
    public void Mistral_ReadsTheArrayForm_AndTheV11Form()
    {
        var array = Mistral.Parse("Sure. [TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"g\", \"arguments\": {}}]");
        Assert.Equal("Sure.", array.Content);
        Assert.Equal([new ParsedToolCall("get_weather", "{\"city\": \"Paris\"}"), new ParsedToolCall("g", "{}")], array.Calls);
        var v11 = Mistral.Parse("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]g[ARGS]{}");
        Assert.Equal([new ParsedToolCall("get_weather", "{\"city\": \"Paris\"}"), new ParsedToolCall("g", "{}")], v11.Calls);
    }

    [Theory]
    [InlineData("{%- if message.tool_calls %}<tool_call>\n{{ tool_call | tojson }}\n</tool_call>{%- endif %}", "hermes")]
    [InlineData("{{- '<|python_tag|>' }}{\"name\": ..., \"parameters\": ...}", "llama3_json")]
    [InlineData("{{- '[TOOL_CALLS]' + tool_calls | tojson }}", "mistral")]
    [InlineData("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}", "hermes")]
    public void TheFormat_IsTheOneTheChatTemplateTeaches(string template, string format) =>
        Assert.Equal(format, ToolCallFormat.ForTemplate(template).Name);

    [Fact]
    public void AStream_ShowsContentAsItComes_HoldsBackAPossibleMarker_AndKeepsTheCall()
    {
        var stream = new ToolCallStream(Hermes);
        Assert.Equal("Let me", stream.Push("Let me"));
        Assert.Equal(" check.", stream.Push(" check.<tool"));
        Assert.Equal("", stream.Push("_call>\n{\"name\": \"f\", "));
        Assert.Equal("", stream.Push("\"arguments\": {}}\n</tool_call>"));
        var (remaining, calls) = stream.Finish();
        Assert.Equal("", remaining);
        Assert.Equal([new ParsedToolCall("f", "{}")], calls);
    }

    [Fact]
    public void AStream_WhoseHeldBackTextWasNoCall_ShowsItAtTheEnd()
    {
        var stream = new ToolCallStream(Hermes);
        Assert.Equal("a ", stream.Push("a <tool"));
        var (remaining, calls) = stream.Finish();
        Assert.Equal("<tool", remaining);
        Assert.Empty(calls);

        var broken = new ToolCallStream(Llama3);
        Assert.Equal("", broken.Push(" {\"not\": "));
        Assert.Equal("", broken.Push("\"a call\"}"));
        Assert.Equal(" {\"not\": \"a call\"}", broken.Finish().Remaining);
    }
}
