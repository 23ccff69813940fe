using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Text;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// A server for chat features: tiny-llama with its own tokenizer (vocabulary 512), in a copy whose config allows 4096
/// positions (RoPE takes any; the weights are random either way) so that prompts carrying tool declarations fit, with
/// no chat template (the plain one, tools described in Hermes' words) and CORS allowing <see cref="Origin"/>.
/// </summary>
public sealed class ChatServerFixture : IAsyncLifetime
{
    public const string ModelName = "tiny-llama-4k";

    /// <summary>The one origin CORS allows.</summary>
    public const string Origin = "https://app.example";

    public string Checkpoint { get; } = Path.Combine(Path.GetTempPath(), $"tessera-chat-{Guid.NewGuid():N}");

    public ITokenizer Tokenizer { get; private set; } = null!;

    public ContinuousBatcher Batcher { get; private set; } = null!;

    public CompletionServer Server { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Checkpoint);
        string source = Fixtures.Directory(Fixtures.TinyLlama);
        foreach (string file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(Checkpoint, Path.GetFileName(file)));
        string configPath = Path.Combine(Checkpoint, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        config["max_position_embeddings"] = 4096;
        File.WriteAllText(configPath, config.ToJsonString());

        Tokenizer = Tokenizers.Load(Checkpoint);
        Batcher = new ContinuousBatcher(EngineCatalog.Open(Checkpoint), Tokenizer, maxInFlight: 4);
        Server = await CompletionServer.StartAsync(Batcher, Tokenizer, ModelName, "127.0.0.1", port: 0, ServerOptions());
        Client = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(120) };
    }

    /// <summary>What this fixture's server is started with.</summary>
    public static ServerOptions ServerOptions() => new() { AllowedOrigins = [Origin] };

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        await Batcher.ShutdownAsync();
        Directory.Delete(Checkpoint, recursive: true);
    }

    public Task<HttpResponseMessage> PostAsync(string path, JsonObject body) => Client.PostJsonAsync(path, body);

    public Task<JsonObject> PostOkAsync(string path, JsonObject body) => Client.PostOkAsync(path, body);

    /// <summary>The error body of a request that must fail with <paramref name="status"/>.</summary>
    public async Task<JsonObject> PostFailingAsync(string path, JsonObject body, int status = 400)
    {
        using var response = await PostAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!["error"]!.AsObject();
    }

    /// <summary>The data of every server-sent event of a streamed request, "[DONE]" included.</summary>
    public Task<List<string>> PostStreamAsync(string path, JsonObject body) => Client.PostStreamAsync(path, body);
}
