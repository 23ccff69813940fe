using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Serving;

/// <summary>A test client's requests to the server: JSON bodies posted, answers checked and read.</summary>
internal static class JsonHttp
{
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient client, string path, JsonObject body) =>
        client.PostAsync(path, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));

    /// <summary>The body of a request that must succeed.</summary>
    public static async Task<JsonObject> PostOkAsync(this HttpClient client, string path, JsonObject body)
    {
        using var response = await client.PostJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>The data of every server-sent event of a streamed request, "[DONE]" included.</summary>
    public static async Task<List<string>> PostStreamAsync(this HttpClient client, string path, JsonObject body)
    {
        using var response = await client.PostJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        return events.Select(e => e["data: ".Length..]).ToList();
    }
}
