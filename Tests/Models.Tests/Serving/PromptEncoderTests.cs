using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Models.Serving;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// A prompt that cannot fit the context whatever it says is refused before it is tokenized: its text is longer than
/// the context times the longest token's bytes (with the normalizers' slack), and a body longer than such a prompt,
/// all escaped, is not even read (413). The server serves on after either.
/// </summary>
public sealed class PromptEncoderTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private PromptEncoder Bound => new(server.Tokenizer, server.ContextLength);

    [Theory]
    [InlineData("v1/completions")]
    [InlineData("v1/chat/completions")]
    public async Task AText_PastWhatTheContextCouldHold_IsA400_BeforeItIsTokenized(string path)
    {
        string text = new('a', (int)Bound.MaxTextBytes + 1);
        var body = path.Contains("chat")
            ? new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = text }) }
            : new JsonObject { ["prompt"] = text };
        using var response = await server.PostAsync(path, body);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("context_length_exceeded", (string)error["code"]!);
        Assert.Contains("bytes of text", (string)error["message"]!);
        await server.PostOkAsync("v1/completions", new JsonObject { ["prompt"] = "Once", ["max_tokens"] = 2 });
    }

    [Fact]
    public async Task ABody_PastTheLargestPromptAllEscaped_IsNotRead_413()
    {
        var content = new StringContent("{\"prompt\": \"" + new string('a', (int)Bound.MaxBodyBytes + 16) + "\"}", Encoding.UTF8, "application/json");
        using var response = await server.Client.PostAsync("v1/completions", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("\"error\"", await response.Content.ReadAsStringAsync());
        await server.PostOkAsync("v1/completions", new JsonObject { ["prompt"] = "Once", ["max_tokens"] = 2 });
    }

    [Fact]
    public async Task ALargeBody_IsFollowedByAFullCollection_ThatGivesItsMemoryBack()
    {
        int before = GC.CollectionCount(GC.MaxGeneration);
        var content = new StringContent("{\"prompt\": \"" + new string('a', (int)LargeRequestMemory.LargeBodyBytes) + "\"}", Encoding.UTF8, "application/json");
        using (var response = await server.Client.PostAsync("v1/completions", content)) Assert.False(response.IsSuccessStatusCode);

        // The collection runs once the response has gone out.
        for (int wait = 0; wait < 100 && GC.CollectionCount(GC.MaxGeneration) == before; wait++) await Task.Delay(50);
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before, "no full collection after a 1 MiB body");
    }
}
