using Tessera.Generation;
using Tessera.Models.Serving.Contracts;
using Tessera.Models.Serving.Tools;

namespace Tessera.Models.Serving;

/// <summary>
/// The response bodies of one request, whole or as stream chunks, as OpenAI's API shapes them, one choice per
/// generation (<c>n</c>, each chunk carrying its choice's index); a chat choice's answer is read by its own
/// <see cref="ChatAnswer"/> (content and tool calls).
/// </summary>
/// <param name="answers">makes a chat choice's answer reader (null for completions)</param>
/// <param name="logprobs">the alternatives per token to show (chat's top_logprobs, completions' logprobs); null: no logprobs shown</param>
/// <param name="echo">completions' echo: the prompt's text, prepended to each choice's text (with logprobs, its tokens too); null: none</param>
internal sealed class OpenAiFormat(string id, long created, string model, Func<ChatAnswer>? answers, LogprobsFormat tokens, int? logprobs = null, string? echo = null)
{
    private readonly bool chat = answers is not null;

    /// <summary>Per choice of a chat stream: its answer, read as it comes.</summary>
    private readonly Dictionary<int, ChatAnswer> _answers = [];

    /// <summary>Per choice of a completions stream: where the next chunk's text starts in the choice's text (legacy text_offset).</summary>
    private readonly Dictionary<int, int> _offsets = [];

    /// <summary>Whether each choice's text starts with the prompt (completions' echo).</summary>
    public bool Echoes => echo is not null;

    /// <summary>OpenAI's finish_reason: "stop" for a stop token or string, "length" for max tokens or a full context.</summary>
    public static string FinishReasonOf(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";

    /// <summary>The usage of a request: its prompt counted once, the tokens of every choice generated (best_of's too).</summary>
    public static Usage UsageOf(IReadOnlyList<GenerationOutput> outputs)
    {
        int prompt = outputs[0].PromptTokens.Length, completion = outputs.Sum(o => o.Tokens.Length);
        return new Usage(prompt, completion, prompt + completion);
    }

    /// <summary>The whole answer (stream = false): one choice per output, indexed in this order.</summary>
    public CompletionResponse Response(IReadOnlyList<GenerationOutput> shown, Usage usage)
    {
        var choices = shown.Select((output, index) => (chat
                ? ChatChoice(output)
                : new Choice { Text = echo + output.Text, Logprobs = CompletionLogprobs(output), FinishReason = FinishReasonOf(output.FinishReason) })
            with { Index = index, TokenIds = output.Tokens }).ToArray();
        return new CompletionResponse(id, chat ? "chat.completion" : "text_completion", created, model, choices, usage);
    }

    /// <summary>The first chunk of a chat choice's stream: the assistant's role.</summary>
    public CompletionResponse RoleChunk(int index) => Chunk(new Choice { Index = index, Delta = new Delta("assistant", "") });

    /// <summary>A completions choice's echoed prompt (with its logprobs when asked: available once its first token came).</summary>
    public CompletionResponse EchoChunk(int index, IReadOnlyList<TokenLogprob?>? promptLogprobs, int[] prompt) =>
        Chunk(new Choice { Index = index, Text = echo, Logprobs = logprobs is null ? null : Legacy(prompt, promptLogprobs ?? new TokenLogprob?[prompt.Length], tokens.TextOffsets([], prompt, 0)) });

    /// <summary>One token's chunk (a chat chunk carries the content the token lets show: all its text, unless it may be a call).</summary>
    public CompletionResponse TokenChunk(int index, GeneratedToken token) => Chunk((chat
            ? new Choice { Delta = new Delta(null, AnswerOf(index).Push(token)), Logprobs = ChatLogprobs(token.Logprob is { } l ? [l] : null) }
            : new Choice { Text = token.Text, Logprobs = logprobs is null ? null : Legacy([token.Id], [token.Logprob], [Advance(index, token.Text)]) })
        with { Index = index, TokenIds = [token.Id] });

    /// <summary>
    /// The chunks that end a choice: in chat, the content held back and the tool calls (each whole) when there are any,
    /// then the finish_reason.
    /// </summary>
    public IEnumerable<CompletionResponse> FinishChunks(int index, FinishReason reason)
    {
        if (!chat)
        {
            yield return Chunk(new Choice { Index = index, Text = "", FinishReason = FinishReasonOf(reason) });
            yield break;
        }
        var answer = AnswerOf(index);
        var (remaining, calls) = answer.Finish();
        if (remaining.Length > 0) yield return Chunk(new Choice { Index = index, Delta = new Delta(null, remaining) });
        if (calls.Length > 0) yield return Chunk(new Choice { Index = index, Delta = new Delta(null, null, calls) });
        yield return Chunk(new Choice { Index = index, Delta = new Delta(null, null), FinishReason = answer.FinishReason(reason, calls.Length > 0) });
    }

    /// <summary>A whole chat choice: its content and calls as its answer reads them.</summary>
    private Choice ChatChoice(GenerationOutput output)
    {
        var (content, calls, finish) = answers!().Read(output);
        return new Choice { Message = new AssistantMessage("assistant", content, calls), Logprobs = ChatLogprobs(output.Logprobs), FinishReason = finish };
    }

    private ChatAnswer AnswerOf(int index) => _answers.TryGetValue(index, out var answer) ? answer : _answers[index] = answers!();

    /// <summary>stream_options.include_usage: no choices, the usage.</summary>
    public CompletionResponse UsageChunk(Usage usage) => new(id, ChunkKind, created, model, [], usage);

    private string ChunkKind => chat ? "chat.completion.chunk" : "text_completion";

    private CompletionResponse Chunk(Choice choice) => new(id, ChunkKind, created, model, [choice], null);

    /// <summary>Chat's logprobs.content, when the request asked.</summary>
    private ChoiceLogprobs? ChatLogprobs(IReadOnlyList<TokenLogprob>? generated) => logprobs is null || generated is null ? null : new ChoiceLogprobs
    {
        Content = generated.Select(l => new LogprobEntry(tokens.Text(l.Id), LogprobsFormat.Finite(l.Logprob), tokens.Bytes(l.Id),
            l.Top.Take(logprobs.Value).Select(t => new TopLogprobEntry(tokens.Text(t.Id), LogprobsFormat.Finite(t.Logprob), tokens.Bytes(t.Id))).ToArray())).ToArray(),
    };

    /// <summary>The legacy shape of a whole completions choice: the echoed prompt's tokens (when echoed), then the output's.</summary>
    private ChoiceLogprobs? CompletionLogprobs(GenerationOutput output)
    {
        if (logprobs is null) return null;
        var ids = new List<int>();
        var entries = new List<TokenLogprob?>();
        var offsets = new List<int>();
        if (echo is not null)
        {
            ids.AddRange(output.PromptTokens);
            entries.AddRange(output.PromptLogprobs ?? new TokenLogprob?[output.PromptTokens.Length]);
            offsets.AddRange(tokens.TextOffsets([], output.PromptTokens, 0));
        }
        ids.AddRange(output.Tokens);
        entries.AddRange(output.Logprobs ?? []);
        offsets.AddRange(tokens.TextOffsets(output.PromptTokens, output.Tokens, echo?.Length ?? 0));
        return Legacy(ids, entries, offsets.ToArray());
    }

    /// <summary>Where a streamed chunk's text starts in its choice's text (after the echo), and moves past it.</summary>
    private int Advance(int index, string text)
    {
        int offset = _offsets.GetValueOrDefault(index, echo?.Length ?? 0);
        _offsets[index] = offset + text.Length;
        return offset;
    }

    /// <summary>
    /// Legacy logprobs of consecutive tokens of a choice's text: token strings, their log-probabilities (null where there
    /// is none: the first prompt token), the top alternatives as {token: logprob} (the chosen token among them, as OpenAI
    /// returns up to logprobs + 1), and where each token's text starts in the choice's text (<paramref name="offsets"/>).
    /// </summary>
    private ChoiceLogprobs Legacy(IReadOnlyList<int> ids, IReadOnlyList<TokenLogprob?> entries, int[] offsets)
    {
        return new ChoiceLogprobs
        {
            Tokens = ids.Select(tokens.Text).ToArray(),
            TokenLogprobs = entries.Select(e => e is null ? (double?)null : LogprobsFormat.Finite(e.Logprob)).ToArray(),
            TopLogprobs = entries.Select(e => e is null ? null : TopOf(e)).ToArray(),
            TextOffset = offsets,
        };
    }

    private Dictionary<string, double> TopOf(TokenLogprob entry)
    {
        var top = new Dictionary<string, double>();
        foreach (var t in entry.Top.Take(logprobs!.Value)) top.TryAdd(tokens.Text(t.Id), LogprobsFormat.Finite(t.Logprob));
        top.TryAdd(tokens.Text(entry.Id), LogprobsFormat.Finite(entry.Logprob));
        return top;
    }
}
