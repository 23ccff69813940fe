using System.Net;
using System.Text;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// CORS (--allowed-origins): a browser's preflight is answered for the origins allowed, with the methods and the
/// headers OpenAI's SDKs send (Authorization, Content-Type); answers to an allowed origin carry
/// Access-Control-Allow-Origin, errors included; any other origin, or a server that allows none, gets no CORS header.
/// </summary>
public sealed class CorsTests
{
    private const string Allowed = "http://app.example:3000";
    private const string Other = "https://evil.example";

    private static async Task<(CompletionServer Server, ContinuousBatcher Batcher, HttpClient Client)> StartAsync(params string[] origins)
    {
        var tokenizer = new ByteTokenizer();
        var batcher = new ContinuousBatcher(HookedEngine.TinyLlama(), tokenizer);
        var server = await CompletionServer.StartAsync(batcher, tokenizer, "tiny-llama", options: new ServerOptions { AllowedOrigins = origins });
        return (server, batcher, new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) });
    }

    private static HttpRequestMessage Preflight(string origin, string path = "/v1/chat/completions")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    private static HttpRequestMessage Post(string origin, string body = """{"prompt": [1, 2], "max_tokens": 1}""")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("Origin", origin);
        return request;
    }

    private static string? AllowOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;

    [Fact]
    public async Task APreflightFromAnAllowedOrigin_IsAnsweredWithItsMethodsAndHeaders()
    {
        var (server, batcher, client) = await StartAsync(Allowed);
        await using var _ = server;
        await using var __ = batcher;
        using var ___ = client;

        using var response = await client.SendAsync(Preflight(Allowed));

        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}");
        Assert.Equal(Allowed, AllowOrigin(response));
        Assert.Contains("POST", response.Headers.GetValues("Access-Control-Allow-Methods").Single());
        string headers = response.Headers.GetValues("Access-Control-Allow-Headers").Single().ToLowerInvariant();
        Assert.Contains("authorization", headers);
        Assert.Contains("content-type", headers);
    }

    [Fact]
    public async Task AnswersToAnAllowedOrigin_CarryTheHeader_ErrorsIncluded_AndOtherOriginsGetNone()
    {
        var (server, batcher, client) = await StartAsync(Allowed, "http://second.example");
        await using var _ = server;
        await using var __ = batcher;
        using var ___ = client;

        using var ok = await client.SendAsync(Post(Allowed));
        using var error = await client.SendAsync(Post(Allowed, """{"model": "nope", "prompt": "Hi"}"""));
        using var otherPreflight = await client.SendAsync(Preflight(Other));
        using var other = await client.SendAsync(Post(Other));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(Allowed, AllowOrigin(ok));
        Assert.Equal(HttpStatusCode.NotFound, error.StatusCode);
        Assert.Equal(Allowed, AllowOrigin(error));
        Assert.Null(AllowOrigin(otherPreflight));
        Assert.False(otherPreflight.Headers.Contains("Access-Control-Allow-Methods"));
        Assert.Null(AllowOrigin(other));
    }

    [Fact]
    public async Task AStar_AllowsAnyOrigin()
    {
        var (server, batcher, client) = await StartAsync("*");
        await using var _ = server;
        await using var __ = batcher;
        using var ___ = client;

        using var preflight = await client.SendAsync(Preflight(Other));
        using var response = await client.SendAsync(Post(Other));

        Assert.Equal("*", AllowOrigin(preflight));
        Assert.Equal("*", AllowOrigin(response));
    }

    [Fact]
    public async Task ByDefault_NoOriginIsAllowed()
    {
        var (server, batcher, client) = await StartAsync();
        await using var _ = server;
        await using var __ = batcher;
        using var ___ = client;

        using var preflight = await client.SendAsync(Preflight(Allowed));
        using var response = await client.SendAsync(Post(Allowed));

        Assert.Null(AllowOrigin(preflight));
        Assert.Null(AllowOrigin(response));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("http://app.example.com/")]
    [InlineData("http://app.example.com/path")]
    [InlineData("ftp://app.example.com")]
    public async Task AnAllowedOriginThatIsNotAnOrigin_IsRefusedAtStart(string origin)
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => CompletionServer.StartLoadingAsync("tiny-llama", options: new ServerOptions { AllowedOrigins = [origin] }));

        Assert.Contains("--allowed-origins", error.Message);
    }
}
