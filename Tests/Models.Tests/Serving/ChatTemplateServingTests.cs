using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;
using Tessera.Text;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// With a checkpoint chat template, /v1/chat/completions generates from the template's rendering of the messages,
/// encoded as transformers encodes it (no special tokens added: the template wrote its BOS); a conversation the
/// template refuses is a 400 with the template's reason.
/// </summary>
public sealed class ChatTemplateServingTests : IAsyncLifetime
{
    private const string Source =
        "{{ bos_token }}{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('This model takes no tool messages.') }}{% endif %}" +
        "<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";

    private readonly ByteTokenizer _tokenizer = new(vocabSize: 512); // tiny-llama's ids, all of them (the batcher masks ids a tokenizer lacks)
    private ITransformerEngine _reference = null!;
    private ContinuousBatcher _batcher = null!;
    private CompletionServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        string directory = Fixtures.Directory(Fixtures.TinyLlama);
        _reference = EngineCatalog.Open(directory);
        _batcher = new ContinuousBatcher(EngineCatalog.Open(directory), _tokenizer, maxInFlight: 2);
        var template = new CheckpointChatTemplate(new Dictionary<string, string> { ["default"] = Source }, new Dictionary<string, string> { ["bos_token"] = "<s>" });
        _server = await CompletionServer.StartAsync(_batcher, _tokenizer, "tiny-llama", "127.0.0.1", port: 0, new ServerOptions { ChatTemplate = template });
        _client = new HttpClient { BaseAddress = _server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
        await _batcher.ShutdownAsync();
    }

    private async Task<(int Status, JsonObject Body)> PostAsync(JsonObject body)
    {
        using var response = await _client.PostAsync("/v1/chat/completions", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    [Fact]
    public async Task TheCheckpointTemplate_IsThePrompt_EncodedWithoutAnAddedBos()
    {
        var (status, body) = await PostAsync(new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = "Be brief." }, new JsonObject { ["role"] = "user", ["content"] = "Hi" }),
            ["max_tokens"] = 3, ["temperature"] = 0,
        });
        Assert.Equal(200, status);
        int[] prompt = _tokenizer.Encode("<s><|system|>Be brief.\n<|user|>Hi\n<|assistant|>", addSpecialTokens: false);
        Assert.Equal(prompt.Length, (int)body["usage"]!["prompt_tokens"]!);
        int[] expected = GreedyDecoder.Generate(_reference, prompt, 3).Tokens;
        int stop = Array.FindIndex(expected, id => _tokenizer.EndOfSequence.Contains(id));
        if (stop >= 0) expected = expected[..(stop + 1)];
        Assert.Equal(expected, body["choices"]![0]!["token_ids"]!.AsArray().Select(id => (int)id!));
    }

    [Fact]
    public async Task AConversationTheTemplateRefuses_IsA400_WithTheTemplatesReason()
    {
        var (status, body) = await PostAsync(new JsonObject
        {
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "tool", ["tool_call_id"] = "call_1", ["content"] = "42" }),
        });
        Assert.Equal(400, status);
        Assert.Equal("chat_template_error", (string)body["error"]!["code"]!);
        Assert.Contains("This model takes no tool messages.", (string)body["error"]!["message"]!);
    }
}
