using Tessera.Generation;
using Tessera.Models.Serving.Contracts;

namespace Tessera.Models.Serving;

/// <summary>The response bodies of one request, whole or as stream chunks, as OpenAI's API shapes them.</summary>
internal sealed class OpenAiFormat(string id, long created, string model, bool chat)
{
    private static readonly LogprobsPlaceholder NullLogprobs = new(true);

    /// <summary>OpenAI's finish_reason: "stop" for a stop token or string, "length" for max tokens or a full context.</summary>
    public static string FinishReasonOf(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";

    public static Usage UsageOf(GenerationOutput output) =>
        new(output.PromptTokens.Length, output.Tokens.Length, output.PromptTokens.Length + output.Tokens.Length);

    /// <summary>The whole answer (stream = false).</summary>
    public CompletionResponse Response(GenerationOutput output)
    {
        var choice = chat
            ? new Choice { Message = new AssistantMessage("assistant", output.Text) }
            : new Choice { Text = output.Text, Logprobs = NullLogprobs };
        choice = choice with { FinishReason = FinishReasonOf(output.FinishReason), TokenIds = output.Tokens };
        return new CompletionResponse(id, chat ? "chat.completion" : "text_completion", created, model, [choice], UsageOf(output));
    }

    /// <summary>The first chunk of a chat stream: the assistant's role.</summary>
    public CompletionResponse RoleChunk() => Chunk(new Choice { Delta = new Delta("assistant", "") });

    /// <summary>One token's chunk.</summary>
    public CompletionResponse TokenChunk(GeneratedToken token) => Chunk(
        (chat ? new Choice { Delta = new Delta(null, token.Text) } : new Choice { Text = token.Text, Logprobs = NullLogprobs }) with { TokenIds = [token.Id] });

    /// <summary>The chunk that ends the choice.</summary>
    public CompletionResponse FinishChunk(FinishReason reason) => Chunk(
        (chat ? new Choice { Delta = new Delta(null, null) } : new Choice { Text = "", Logprobs = NullLogprobs }) with { FinishReason = FinishReasonOf(reason) });

    /// <summary>stream_options.include_usage: no choices, the usage.</summary>
    public CompletionResponse UsageChunk(GenerationOutput output) => new(id, ChunkKind, created, model, [], UsageOf(output));

    private string ChunkKind => chat ? "chat.completion.chunk" : "text_completion";

    private CompletionResponse Chunk(Choice choice) => new(id, ChunkKind, created, model, [choice], null);
}
