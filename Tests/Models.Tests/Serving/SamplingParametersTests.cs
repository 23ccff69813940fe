using System.Text.Json.Nodes;
using Tessera.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// OpenAI's sampling parameters over HTTP: logprobs in chat's and the legacy completions' shapes (whole and streamed),
/// echo, n and best_of, the penalties and logit_bias. Log-probabilities are the log-softmax of the model's logits.
/// </summary>
public sealed class SamplingParametersTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Prompt = "Once upon a time";

    private static JsonArray User(string content) => new(new JsonObject { ["role"] = "user", ["content"] = content });

    private static int[] Ids(JsonNode? array) => array!.AsArray().Select(i => (int)i!).ToArray();

    /// <summary>The model's log-probability of <paramref name="next"/> after <paramref name="tokens"/>, alone on the reference engine.</summary>
    private double Logprob(int[] tokens, int next) => TokenLogprob.Of(server.Logits(tokens), next, 0).Logprob;

    [Fact]
    public async Task ChatLogprobs_GiveEachTokenItsTextLogprobBytesAndTopAlternatives_AsTheModelsLogSoftmax()
    {
        var response = await server.PostOkAsync("/v1/chat/completions", new JsonObject
        {
            ["messages"] = User("Hello"), ["max_tokens"] = 5, ["temperature"] = 0, ["logprobs"] = true, ["top_logprobs"] = 3,
        });

        var choice = response["choices"]![0]!;
        int[] ids = Ids(choice["token_ids"]);
        var content = choice["logprobs"]!["content"]!.AsArray();
        Assert.Equal(ids.Length, content.Count);
        int[] prompt = server.Tokenizer.Encode("user: Hello\nassistant:");
        for (int i = 0; i < ids.Length; i++)
        {
            var entry = content[i]!;
            Assert.Equal(server.Tokenizer.TokenBytes(ids[i]).ToArray().Select(b => (int)b), Ids(entry["bytes"]));
            var top = entry["top_logprobs"]!.AsArray();
            Assert.Equal(3, top.Count);
            // Greedy: the chosen token is the most likely, and the alternatives come most likely first.
            Assert.Equal((string)entry["token"]!, (string)top[0]!["token"]!);
            Assert.Equal((double)entry["logprob"]!, (double)top[0]!["logprob"]!);
            Assert.True((double)top[0]!["logprob"]! >= (double)top[1]!["logprob"]! && (double)top[1]!["logprob"]! >= (double)top[2]!["logprob"]!);
            Assert.Equal(Logprob([.. prompt, .. ids[..i]], ids[i]), (double)entry["logprob"]!, 3);
        }
    }

    [Fact]
    public async Task ChatWithoutLogprobs_WritesLogprobsNull()
    {
        var response = await server.PostOkAsync("/v1/chat/completions", new JsonObject { ["messages"] = User("Hello"), ["max_tokens"] = 2, ["temperature"] = 0 });

        var choice = response["choices"]![0]!.AsObject();
        Assert.True(choice.ContainsKey("logprobs"));
        Assert.Null(choice["logprobs"]);
    }

    [Fact]
    public async Task StreamedChatLogprobs_ComeOnePerTokenChunk()
    {
        var events = await server.PostStreamAsync("/v1/chat/completions", new JsonObject
        {
            ["messages"] = User("Hello"), ["max_tokens"] = 4, ["temperature"] = 0, ["logprobs"] = true, ["top_logprobs"] = 2, ["stream"] = true,
        });

        var choices = events[..^1].Select(e => JsonNode.Parse(e)!["choices"]![0]!).ToList();
        var tokenChunks = choices.Where(c => c["token_ids"] is not null).ToList();
        Assert.Equal(4, tokenChunks.Count);
        Assert.All(tokenChunks, c =>
        {
            var entry = Assert.Single(c["logprobs"]!["content"]!.AsArray())!;
            Assert.Equal(2, entry["top_logprobs"]!.AsArray().Count);
            Assert.Equal(server.Tokenizer.TokenBytes(Ids(c["token_ids"])[0]).ToArray().Select(b => (int)b), Ids(entry["bytes"]));
        });
        Assert.Null(choices[0]["logprobs"]);   // the role
        Assert.Null(choices[^1]["logprobs"]);  // the finish
    }

    [Fact]
    public async Task CompletionLogprobs_HaveTheLegacyShape_WithTheChosenTokenAmongTheTopOnes()
    {
        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 6, ["temperature"] = 0, ["logprobs"] = 2 });

        var choice = response["choices"]![0]!;
        int[] ids = Ids(choice["token_ids"]);
        var logprobs = choice["logprobs"]!;
        var tokens = logprobs["tokens"]!.AsArray().Select(t => (string)t!).ToArray();
        var tokenLogprobs = logprobs["token_logprobs"]!.AsArray().Select(l => (double)l!).ToArray();
        var top = logprobs["top_logprobs"]!.AsArray().Select(t => t!.AsObject()).ToArray();
        var offsets = Ids(logprobs["text_offset"]);
        Assert.Equal(ids.Length, tokens.Length);
        Assert.Equal(ids.Length, tokenLogprobs.Length);
        Assert.Equal(ids.Length, top.Length);
        int[] prompt = server.Tokenizer.Encode(Prompt);
        string text = (string)choice["text"]!;
        // Each token's text (what it adds to the text, decoded after the prompt and the tokens before it) starts at its offset.
        var decoder = new Tessera.Text.StreamingDecoder(server.Tokenizer);
        decoder.Add(prompt);
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.InRange(top[i].Count, 1, 3); // the 2 best, and the chosen one if it is not among them
            Assert.Equal(tokenLogprobs[i], (double)top[i][tokens[i]]!);
            Assert.Equal(Logprob([.. prompt, .. ids[..i]], ids[i]), tokenLogprobs[i], 3);
            string piece = decoder.Add(ids[i]);
            Assert.Equal(piece, text.Substring(offsets[i], piece.Length));
            if (i > 0) Assert.True(offsets[i] >= offsets[i - 1]);
        }
    }

    [Fact]
    public async Task StreamedCompletionLogprobs_ContinueTheTextOffsetsAcrossChunks()
    {
        var events = await server.PostStreamAsync("/v1/completions", new JsonObject
        {
            ["prompt"] = Prompt, ["max_tokens"] = 5, ["temperature"] = 0, ["logprobs"] = 1, ["stream"] = true,
        });

        var tokenChunks = events[..^1].Select(e => JsonNode.Parse(e)!["choices"]![0]!).Where(c => c["token_ids"] is not null).ToList();
        Assert.Equal(5, tokenChunks.Count);
        // Each chunk's offset is where its text starts in the choice's text: the length of the texts streamed before it.
        int offset = 0;
        foreach (var chunk in tokenChunks)
        {
            var logprobs = chunk["logprobs"]!;
            Assert.Equal(offset, (int)logprobs["text_offset"]![0]!);
            offset += ((string)chunk["text"]!).Length;
            Assert.Single(logprobs["token_logprobs"]!.AsArray());
        }
    }

    [Fact]
    public async Task Echo_PrependsThePrompt_AndWithLogprobsGivesThePromptTokensTheirs_TheFirstNull()
    {
        int[] prompt = server.Tokenizer.Encode(Prompt);
        var expected = server.Offline(prompt, 4);

        var response = await server.PostOkAsync("/v1/completions", new JsonObject
        {
            ["prompt"] = Prompt, ["max_tokens"] = 4, ["temperature"] = 0, ["echo"] = true, ["logprobs"] = 1,
        });

        var choice = response["choices"]![0]!;
        Assert.Equal(Prompt + expected.Text, (string)choice["text"]!);
        var tokenLogprobs = choice["logprobs"]!["token_logprobs"]!.AsArray();
        var top = choice["logprobs"]!["top_logprobs"]!.AsArray();
        Assert.Equal(prompt.Length + expected.Ids.Length, tokenLogprobs.Count);
        Assert.Null(tokenLogprobs[0]);
        Assert.Null(top[0]);
        for (int t = 1; t < prompt.Length; t++)
            Assert.Equal(Logprob(prompt[..t], prompt[t]), (double)tokenLogprobs[t]!, 3);
        Assert.Equal(prompt.Length, (int)response["usage"]!["prompt_tokens"]!);
    }

    [Fact]
    public async Task EchoWithoutLogprobs_AndStreamed_StartsWithThePrompt()
    {
        var expected = server.Offline(server.Tokenizer.Encode(Prompt), 3);

        var whole = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 3, ["temperature"] = 0, ["echo"] = true });
        var events = await server.PostStreamAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 3, ["temperature"] = 0, ["echo"] = true, ["stream"] = true });

        Assert.Equal(Prompt + expected.Text, (string)whole["choices"]![0]!["text"]!);
        Assert.Null(whole["choices"]![0]!["logprobs"]);
        var texts = events[..^1].Select(e => (string)JsonNode.Parse(e)!["choices"]![0]!["text"]!).ToList();
        Assert.Equal(Prompt, texts[0]);
        Assert.Equal(Prompt + expected.Text, string.Concat(texts));
    }

    [Fact]
    public async Task NGreedyChoices_AreIdenticallyTheOfflineOutput_IndexedInOrder_WithThePromptCountedOnce()
    {
        int[] prompt = server.Tokenizer.Encode(Prompt);
        var expected = server.Offline(prompt, 6);

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 6, ["temperature"] = 0, ["n"] = 3 });

        var choices = response["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => (int)c!["index"]!));
        Assert.All(choices, c => Assert.Equal(expected.Ids, Ids(c!["token_ids"])));
        Assert.Equal(prompt.Length, (int)response["usage"]!["prompt_tokens"]!);
        Assert.Equal(3 * expected.Ids.Length, (int)response["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task StreamedChoices_CarryTheirIndex_AndEachEndsWithItsOwnFinishChunk()
    {
        var expected = server.Offline(server.Tokenizer.Encode("user: Hi\nassistant:"), 5);

        var events = await server.PostStreamAsync("/v1/chat/completions", new JsonObject
        {
            ["messages"] = User("Hi"), ["max_tokens"] = 5, ["temperature"] = 0, ["n"] = 2, ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        });

        var chunks = events[..^2].Select(e => JsonNode.Parse(e)!["choices"]![0]!).ToList();
        foreach (int index in new[] { 0, 1 })
        {
            var mine = chunks.Where(c => (int)c["index"]! == index).ToList();
            Assert.Equal("assistant", (string)mine[0]["delta"]!["role"]!);
            Assert.Equal(expected.Text, string.Concat(mine.Select(c => (string?)c["delta"]!["content"] ?? "")));
            Assert.Single(mine, c => c["finish_reason"] is not null);
            Assert.NotNull(mine[^1]["finish_reason"]);
        }
        var usage = JsonNode.Parse(events[^2])!["usage"]!;
        Assert.Equal(2 * expected.Ids.Length, (int)usage["completion_tokens"]!);
    }

    [Fact]
    public async Task SeededChoices_AreEachReproducible()
    {
        var body = new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 10, ["temperature"] = 1.2, ["seed"] = 77, ["n"] = 2 };

        var first = await server.PostOkAsync("/v1/completions", body.DeepClone().AsObject());
        var second = await server.PostOkAsync("/v1/completions", body.DeepClone().AsObject());

        for (int i = 0; i < 2; i++)
            Assert.Equal(Ids(first["choices"]![i]!["token_ids"]), Ids(second["choices"]![i]!["token_ids"]));
    }

    [Fact]
    public async Task BestOf_ReturnsTheNChoicesOfHighestCumulativeLogprob_AndCountsAllGeneratedTokens()
    {
        var response = await server.PostOkAsync("/v1/completions", new JsonObject
        {
            ["prompt"] = Prompt, ["max_tokens"] = 6, ["temperature"] = 1.5, ["seed"] = 5, ["n"] = 2, ["best_of"] = 4, ["logprobs"] = 0,
        });

        var choices = response["choices"]!.AsArray();
        Assert.Equal([0, 1], choices.Select(c => (int)c!["index"]!));
        var sums = choices.Select(c => c!["logprobs"]!["token_logprobs"]!.AsArray().Sum(l => (double)l!)).ToArray();
        Assert.True(sums[0] >= sums[1]);
        // All four generated count (each up to 6 tokens, fewer if it drew a stop token), not only the two shown.
        int shown = choices.Sum(c => Ids(c!["token_ids"]).Length);
        Assert.InRange((int)response["usage"]!["completion_tokens"]!, shown + 2, 4 * 6);
    }

    [Theory]
    [InlineData("frequency_penalty", 2.0)]
    [InlineData("presence_penalty", 2.0)]
    [InlineData("repetition_penalty", 3.0)]
    public async Task APenalty_ChangesAGreedyOutputThatRepeatsItself(string penalty, double value)
    {
        var plain = server.Offline(server.Tokenizer.Encode(Prompt), 24);
        Assert.True(plain.Ids.Distinct().Count() < plain.Ids.Length, "the unpenalised greedy output repeats a token");

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 24, ["temperature"] = 0, [penalty] = value });

        int[] penalised = Ids(response["choices"]![0]!["token_ids"]);
        Assert.NotEqual(plain.Ids, penalised);
    }

    [Fact]
    public async Task ALogitBiasOfMinus100_KeepsATokenOut_GreedyOrSampled()
    {
        var plain = server.Offline(server.Tokenizer.Encode(Prompt), 8);
        int banned = plain.Ids[0];

        foreach (double temperature in new[] { 0.0, 1.0 })
        {
            var response = await server.PostOkAsync("/v1/completions", new JsonObject
            {
                ["prompt"] = Prompt, ["max_tokens"] = 8, ["temperature"] = temperature, ["seed"] = 3, ["logit_bias"] = new JsonObject { [banned.ToString()] = -100 },
            });
            Assert.DoesNotContain(banned, Ids(response["choices"]![0]!["token_ids"]));
        }
    }

    [Fact]
    public async Task MinP_IsAccepted_AndAtOneIsGreedy()
    {
        var plain = server.Offline(server.Tokenizer.Encode(Prompt), 6);

        var response = await server.PostOkAsync("/v1/completions", new JsonObject { ["prompt"] = Prompt, ["max_tokens"] = 6, ["temperature"] = 1, ["min_p"] = 1, ["seed"] = 9 });

        Assert.Equal(plain.Ids, Ids(response["choices"]![0]!["token_ids"]));
    }
}
