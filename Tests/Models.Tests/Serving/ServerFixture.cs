using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Tessera.Generation;
using Tessera.Models.Serving;
using Tessera.Runtime.Tests.Generation;

namespace Tessera.Models.Tests.Serving;

/// <summary>
/// One in-process server for a test class: tiny-llama on one device behind a batcher of 3 slots, bound to a free
/// loopback port, with a byte-level test tokenizer (the server does not care which tokenizer it is given). Also the
/// offline reference: greedy decoding of the same ids, alone, on a second engine.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string ModelName = "tiny-llama";

    private ITransformerEngine _reference = null!;

    /// <summary>As many ids as tiny-llama's 512 (the batcher masks ids a tokenizer lacks, and the offline reference does not).</summary>
    public ByteTokenizer Tokenizer { get; } = new(vocabSize: 512);

    public ContinuousBatcher Batcher { get; private set; } = null!;

    public CompletionServer Server { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public int ContextLength => _reference.Shape.ContextLength;

    public async Task InitializeAsync()
    {
        string directory = Fixtures.Directory(Fixtures.TinyLlama);
        _reference = EngineCatalog.Open(directory);
        Batcher = new ContinuousBatcher(HookedEngine.GatheringBursts(EngineCatalog.Open(directory)), Tokenizer, maxInFlight: 3);
        Server = await CompletionServer.StartAsync(Batcher, Tokenizer, ModelName, "127.0.0.1", port: 0);
        Client = new HttpClient { BaseAddress = Server.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        await Batcher.ShutdownAsync();
    }

    /// <summary>What greedy decoding gives for these prompt ids alone: ids up to and including the first stop token, and their text.</summary>
    public (int[] Ids, string Text, string FinishReason) Offline(int[] prompt, int maxTokens)
    {
        int[] ids;
        lock (_reference) ids = GreedyDecoder.Generate(_reference, prompt, Math.Min(maxTokens, ContextLength - prompt.Length + 1)).Tokens;
        int stop = Array.FindIndex(ids, id => Tokenizer.EndOfSequence.Contains(id));
        if (stop >= 0) return (ids[..(stop + 1)], Tokenizer.Decode(ids[..(stop + 1)]), "stop");
        return (ids, Tokenizer.Decode(ids), "length");
    }

    /// <summary>The reference engine's logits after these ids alone (the row that predicts the next token).</summary>
    public float[] Logits(int[] tokens)
    {
        lock (_reference) return _reference.Forward(TokenBatch.ForSequence(_reference.CreateCache(), tokens, lastLogitsOnly: true));
    }

    public Task<HttpResponseMessage> PostAsync(string path, JsonObject body) => Client.PostJsonAsync(path, body);

    public Task<JsonObject> PostOkAsync(string path, JsonObject body) => Client.PostOkAsync(path, body);

    /// <summary>Posts a streaming request; returns the data of every server-sent event, "[DONE]" included.</summary>
    public Task<List<string>> PostStreamAsync(string path, JsonObject body) => Client.PostStreamAsync(path, body);

    public Task<JsonObject?> GetJsonAsync(string path) => Client.GetFromJsonAsync<JsonObject>(path);
}
