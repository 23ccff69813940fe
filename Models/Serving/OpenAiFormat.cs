using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Models.Serving.Tools;

namespace Tessera.Models.Serving;

/// <summary>
/// The response bodies of one request, whole or as stream chunks, as OpenAI's API shapes them; a chat answer is read
/// by its <see cref="ChatAnswer"/> (content and tool calls).
/// </summary>
internal sealed class OpenAiFormat(string id, long created, string model, ChatAnswer? answer)
{
    private readonly bool chat = answer is not null;

    private static readonly LogprobsPlaceholder NullLogprobs = new(true);

    /// <summary>OpenAI's finish_reason: "stop" for a stop token or string, "length" for max tokens or a full context.</summary>
    public static string FinishReasonOf(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";

    public static Usage UsageOf(GenerationOutput output) =>
        new(output.PromptTokens.Length, output.Tokens.Length, output.PromptTokens.Length + output.Tokens.Length);

    /// <summary>The whole answer (stream = false).</summary>
    public CompletionResponse Response(GenerationOutput output)
    {
        Choice choice;
        if (answer is not null)
        {
            var (content, calls, finish) = answer.Read(output);
            choice = new Choice { Message = new AssistantMessage("assistant", content, calls), FinishReason = finish };
        }
        else
            choice = new Choice { Text = output.Text, Logprobs = NullLogprobs, FinishReason = FinishReasonOf(output.FinishReason) };
        choice = choice with { TokenIds = output.Tokens };
        return new CompletionResponse(id, chat ? "chat.completion" : "text_completion", created, model, [choice], UsageOf(output));
    }

    /// <summary>The first chunk of a chat stream: the assistant's role.</summary>
    public CompletionResponse RoleChunk() => Chunk(new Choice { Delta = new Delta("assistant", "") });

    /// <summary>One token's chunk (a chat chunk carries the content the token lets show, often all its text).</summary>
    public CompletionResponse TokenChunk(GeneratedToken token) => Chunk(
        (answer is not null ? new Choice { Delta = new Delta(null, answer.Push(token)) } : new Choice { Text = token.Text, Logprobs = NullLogprobs }) with { TokenIds = [token.Id] });

    /// <summary>
    /// The chunks that end the choice: in chat, the content held back and the tool calls (each whole) when there are
    /// any, then the finish_reason.
    /// </summary>
    public IEnumerable<CompletionResponse> FinishChunks(FinishReason reason)
    {
        if (answer is null)
        {
            yield return Chunk(new Choice { Text = "", Logprobs = NullLogprobs, FinishReason = FinishReasonOf(reason) });
            yield break;
        }
        var (remaining, calls) = answer.Finish();
        if (remaining.Length > 0) yield return Chunk(new Choice { Delta = new Delta(null, remaining) });
        if (calls.Length > 0) yield return Chunk(new Choice { Delta = new Delta(null, null, calls) });
        yield return Chunk(new Choice { Delta = new Delta(null, null), FinishReason = answer.FinishReason(reason, calls.Length > 0) });
    }

    /// <summary>stream_options.include_usage: no choices, the usage.</summary>
    public CompletionResponse UsageChunk(GenerationOutput output) => new(id, ChunkKind, created, model, [], UsageOf(output));

    private string ChunkKind => chat ? "chat.completion.chunk" : "text_completion";

    private CompletionResponse Chunk(Choice choice) => new(id, ChunkKind, created, model, [choice], null);
}
