using System.Text.Json;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Models.Serving.Contracts;
using Tessera.Models.Serving.Tools;
using Tessera.Text;

namespace Tessera.Models.Tests.Serving.Tools;

/// <summary>
/// How a chat request becomes its prompt and how its answer is read: the checkpoint's template (BOS written once), the
/// tools handed to a template that takes them or described in a system preamble where it does not, and calls read
/// back from an answer (whole, or streamed with the content around them).
/// </summary>
public sealed class ChatPromptsTests
{
    private static readonly ITokenizer Tokenizer = Tokenizers.Load(Fixtures.Directory(Fixtures.TinyLlama));

    private static ChatCompletionRequest Request(string json) =>
        JsonSerializer.Deserialize(json, ServingJson.Default.ChatCompletionRequest)!;

    private const string Weather = """{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}""";

    private static CheckpointChatTemplate Template(string source) => new(new Dictionary<string, string> { ["default"] = source },
        new Dictionary<string, string> { ["bos_token"] = "<s>", ["eos_token"] = "</s>" });

    [Fact]
    public void ACheckpointsTemplate_WritesItsOwnBos_AndTheTokenizerAddsNoOther()
    {
        var prompts = new ChatPrompts(Template("{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"), Tokenizer);
        var prompt = prompts.Prepare(Request("""{"messages": [{"role": "user", "content": "hi"}]}"""));

        Assert.Equal("<s>[user] hi\n[assistant]", prompt.Text);
        int bos = Tokenizer.BeginOfSequence!.Value;
        Assert.Equal(bos, prompt.Tokens[0]);
        Assert.Single(prompt.Tokens, bos);
        Assert.Equal(Tokenizer.Encode(prompt.Text, addSpecialTokens: false), prompt.Tokens);
    }

    [Fact]
    public void ATemplateThatTakesTools_GetsThem_AndTeachesItsFormat()
    {
        var prompts = new ChatPrompts(Template("{% if tools %}{% for t in tools %}<{{ t.function.name }}>{% endfor %}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}[TOOL_CALLS]"), Tokenizer);
        var prompt = prompts.Prepare(Request($$"""{"messages": [{"role": "user", "content": "hi"}], "tools": [{{Weather}}]}"""));

        Assert.Equal("<get_weather>hi[TOOL_CALLS]", prompt.Text);
        Assert.Equal("mistral", prompts.ToolFormat.Name);
        Assert.Same(prompts.ToolFormat, prompt.Calls);
        Assert.Null(prompt.Constraint);
    }

    [Fact]
    public void WithoutATemplate_TheToolsAreDescribedInTheSystemMessage_InHermesWords()
    {
        var prompts = new ChatPrompts(null, Tokenizer);
        var prompt = prompts.Prepare(Request($$"""{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}], "tools": [{{Weather}}]}"""));

        Assert.StartsWith("system: Be brief.\n\n# Tools\n", prompt.Text);
        Assert.Contains("<tools>\n{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"", prompt.Text);
        Assert.EndsWith("</tool_call>\nuser: hi\nassistant:", prompt.Text);
        Assert.Equal("hermes", prompts.ToolFormat.Name);
    }

    [Fact]
    public void ADeveloperMessage_IsTheSystemMessage_ChatTemplatesKnow()
    {
        var prompts = new ChatPrompts(Template("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"), Tokenizer);
        var prompt = prompts.Prepare(Request("""{"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}]}"""));

        Assert.Equal("[system] Be brief.\n[user] hi\n", prompt.Text);
    }

    [Fact]
    public void TheHistoryOfACall_IsShownAsTheModelWritesCalls()
    {
        var prompts = new ChatPrompts(null, Tokenizer);
        var prompt = prompts.Prepare(Request("""
            {"messages": [{"role": "user", "content": "hi"},
                          {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
                          {"role": "tool", "tool_call_id": "c1", "content": "2"}]}
            """));

        Assert.Equal("user: hi\nassistant: <tool_call>\n{\"name\":\"f\",\"arguments\":{\"x\":1}}\n</tool_call>\ntool: 2\nassistant:", prompt.Text);
    }

    [Fact]
    public void AnAutoAnswer_IsReadForCalls_WholeAndStreamed()
    {
        var prompts = new ChatPrompts(null, Tokenizer);
        var prompt = prompts.Prepare(Request($$"""{"messages": [{"role": "user", "content": "hi"}], "tools": [{{Weather}}]}"""));
        string text = "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
        int[] ids = Tokenizer.Encode(text, addSpecialTokens: false);

        var whole = new ChatAnswer(prompt, prompts.Markers, Tokenizer).Read(Output(ids, text));
        Assert.Equal("Checking.", whole.Content);
        Assert.Equal("tool_calls", whole.FinishReason);
        Assert.Equal(("get_weather", "{\"city\": \"Oslo\"}"), (whole.Calls![0].Function!.Name, whole.Calls[0].Function!.Arguments));

        var streamed = new ChatAnswer(prompt, prompts.Markers, Tokenizer);
        var decoder = new StreamingDecoder(Tokenizer);
        string shown = string.Concat(ids.Select((id, i) => streamed.Push(new GeneratedToken(id, decoder.Add(id), i))));
        var (remaining, calls) = streamed.Finish();
        Assert.Equal("Checking.", (shown + remaining).Trim());
        Assert.Equal("get_weather", Assert.Single(calls).Function.Name);
        Assert.Equal("tool_calls", streamed.FinishReason(FinishReason.Stop, called: true));
    }

    [Fact]
    public void AnAnswerWithoutCalls_IsTextAsItCame()
    {
        var prompts = new ChatPrompts(null, Tokenizer);
        var prompt = prompts.Prepare(Request($$"""{"messages": [{"role": "user", "content": "hi"}], "tools": [{{Weather}}]}"""));
        var answer = new ChatAnswer(prompt, prompts.Markers, Tokenizer).Read(Output([1, 2], "just text <tool"));

        Assert.Equal(("just text <tool", null, "stop"), (answer.Content, answer.Calls, answer.FinishReason));
    }

    private static GenerationOutput Output(int[] ids, string text) =>
        new([1], ids, text, FinishReason.Stop, new GenerationMetrics(1, ids.Length, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, LatencySummary.Of([]), TimeSpan.Zero));
}
