using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// Several served names (vLLM's --served-model-name a b): /v1/models lists them, the first first; a request may name
/// any of them and its response names the first; any other name is a 404.
/// </summary>
public sealed class ServedModelNameTests
{
    [Fact]
    public async Task ARequestMayNameAnyServedName_TheResponseNamesTheFirst_AndOthersGet404()
    {
        var tokenizer = new ByteTokenizer();
        await using var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
        await using var server = await CompletionServer.StartAsync(batcher, tokenizer, "llama-small",
            options: new ServerOptions { ModelAliases = ["gpt-3.5-turbo", "tiny"] });
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };

        var models = (await client.GetFromJsonAsync<JsonObject>("/v1/models"))!["data"]!.AsArray().Select(m => (string)m!["id"]!).ToArray();
        using var byAlias = await client.PostAsync("/v1/completions", Body("gpt-3.5-turbo"));
        using var card = await client.GetAsync("/v1/models/tiny");
        using var unknown = await client.PostAsync("/v1/completions", Body("gpt-4"));

        Assert.Equal(["llama-small", "gpt-3.5-turbo", "tiny"], models);
        Assert.Equal(HttpStatusCode.OK, byAlias.StatusCode);
        Assert.Equal("llama-small", (string)JsonNode.Parse(await byAlias.Content.ReadAsStringAsync())!["model"]!);
        Assert.Equal(HttpStatusCode.OK, card.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("model_not_found", (string)JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["error"]!["code"]!);
    }

    private static StringContent Body(string model) =>
        new(new JsonObject { ["model"] = model, ["prompt"] = new JsonArray(1, 2), ["max_tokens"] = 1 }.ToJsonString(), Encoding.UTF8, "application/json");
}
