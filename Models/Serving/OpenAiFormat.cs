using Tessera.Generation;
using Tessera.Models.Serving.Contracts;

namespace Tessera.Models.Serving;

/// <summary>
/// The response bodies of one request, whole or as stream chunks, as OpenAI's API shapes them, one choice per
/// generation (<c>n</c>, each chunk carrying its choice's index).
/// </summary>
/// <param name="logprobs">the alternatives per token to show (chat's top_logprobs, completions' logprobs); null: no logprobs shown</param>
/// <param name="echo">completions' echo: the prompt's text, prepended to each choice's text (with logprobs, its tokens too); null: none</param>
internal sealed class OpenAiFormat(string id, long created, string model, bool chat, LogprobsFormat tokens, int? logprobs = null, string? echo = null)
{
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
                ? new Choice { Message = new AssistantMessage("assistant", output.Text), Logprobs = ChatLogprobs(output.Logprobs) }
                : new Choice { Text = echo + output.Text, Logprobs = CompletionLogprobs(output) })
            with { Index = index, FinishReason = FinishReasonOf(output.FinishReason), TokenIds = output.Tokens }).ToArray();
        return new CompletionResponse(id, chat ? "chat.completion" : "text_completion", created, model, choices, usage);
    }

    /// <summary>The first chunk of a chat choice's stream: the assistant's role.</summary>
    public CompletionResponse RoleChunk(int index) => Chunk(new Choice { Index = index, Delta = new Delta("assistant", "") });

    /// <summary>A completions choice's echoed prompt (with its logprobs when asked: available once its first token came).</summary>
    public CompletionResponse EchoChunk(int index, IReadOnlyList<TokenLogprob?>? promptLogprobs, int[] prompt) =>
        Chunk(new Choice { Index = index, Text = echo, Logprobs = logprobs is null ? null : Legacy(prompt, promptLogprobs ?? new TokenLogprob?[prompt.Length], tokens.TextOffsets([], prompt, 0)) });

    /// <summary>One token's chunk.</summary>
    public CompletionResponse TokenChunk(int index, GeneratedToken token) => Chunk((chat
            ? new Choice { Delta = new Delta(null, token.Text), Logprobs = ChatLogprobs(token.Logprob is { } l ? [l] : null) }
            : new Choice { Text = token.Text, Logprobs = logprobs is null ? null : Legacy([token.Id], [token.Logprob], [Advance(index, token.Text)]) })
        with { Index = index, TokenIds = [token.Id] });

    /// <summary>The chunk that ends a choice.</summary>
    public CompletionResponse FinishChunk(int index, FinishReason reason) => Chunk(
        (chat ? new Choice { Delta = new Delta(null, null) } : new Choice { Text = "" }) with { Index = index, FinishReason = FinishReasonOf(reason) });

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
