using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tessera.Generation;

namespace Tessera.Models.Serving;

/// <summary>
/// The response bodies of the OpenAI API, for one choice. Extension: every choice (and stream chunk) also carries
/// <c>token_ids</c>, the generated ids, so clients can check outputs exactly.
/// </summary>
internal sealed class OpenAiFormat(string id, long created, string model, bool chat)
{
    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(JsonNode node) => node.ToJsonString(Json);

    /// <summary>OpenAI's finish_reason: "stop" for a stop token or string, "length" for max tokens or a full context.</summary>
    public static string FinishReasonOf(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";

    public static JsonObject Usage(int promptTokens, int completionTokens) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
    };

    /// <summary>The whole answer (stream = false).</summary>
    public JsonObject Response(GenerationOutput output)
    {
        var choice = chat
            ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = output.Text } }
            : new JsonObject { ["index"] = 0, ["text"] = output.Text, ["logprobs"] = null };
        choice["finish_reason"] = FinishReasonOf(output.FinishReason);
        choice["token_ids"] = Ids(output.Tokens);
        var response = Envelope(chat ? "chat.completion" : "text_completion");
        response["choices"] = new JsonArray(choice);
        response["usage"] = Usage(output.PromptTokens.Length, output.Tokens.Length);
        return response;
    }

    /// <summary>The first chunk of a chat stream: the assistant's role.</summary>
    public JsonObject RoleChunk() => Chunk(new JsonObject { ["role"] = "assistant", ["content"] = "" }, null, null);

    /// <summary>One token's chunk.</summary>
    public JsonObject TokenChunk(GeneratedToken token) =>
        Chunk(chat ? new JsonObject { ["content"] = token.Text } : token.Text, null, [token.Id]);

    /// <summary>The chunk that ends the choice.</summary>
    public JsonObject FinishChunk(FinishReason reason) => Chunk(chat ? new JsonObject() : "", FinishReasonOf(reason), null);

    /// <summary>stream_options.include_usage: no choices, the usage.</summary>
    public JsonObject UsageChunk(GenerationOutput output)
    {
        var chunk = Envelope(chat ? "chat.completion.chunk" : "text_completion");
        chunk["choices"] = new JsonArray();
        chunk["usage"] = Usage(output.PromptTokens.Length, output.Tokens.Length);
        return chunk;
    }

    private JsonObject Chunk(JsonNode content, string? finishReason, int[]? ids)
    {
        var choice = chat ? new JsonObject { ["index"] = 0, ["delta"] = content } : new JsonObject { ["index"] = 0, ["text"] = content, ["logprobs"] = null };
        choice["finish_reason"] = finishReason;
        if (ids is not null) choice["token_ids"] = Ids(ids);
        var chunk = Envelope(chat ? "chat.completion.chunk" : "text_completion");
        chunk["choices"] = new JsonArray(choice);
        return chunk;
    }

    private JsonObject Envelope(string kind) => new() { ["id"] = id, ["object"] = kind, ["created"] = created, ["model"] = model };

    private static JsonArray Ids(IEnumerable<int> ids) => new(ids.Select(i => (JsonNode)i).ToArray());
}
