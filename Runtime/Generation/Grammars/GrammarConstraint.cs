using System.Numerics;
using Tessera.Text;

namespace Tessera.Generation.Grammars;

/// <summary>
/// Makes one sequence's tokens spell a sentence of a <see cref="Grammar"/>. A token is allowed when its bytes take the
/// parse somewhere (a valid prefix); special tokens never are, stop tokens only when the output is complete (and then,
/// if no other token can follow, only they are). The allowed set of a parse state is found by walking the vocabulary's
/// <see cref="TokenTrie"/> with the state, skipping the subtree of every byte the grammar refuses, and kept as a bit
/// set per state: inside a string the state repeats, so most steps reuse a mask. Made per sequence by
/// <see cref="Factory"/>; not thread-safe.
/// <para>
/// The output also ends in time: when the tokens left come within <see cref="ClosingReserve"/> of the shortest way to
/// a whole sentence (counted as one token per byte, then a stop token), only tokens along that way are allowed, so
/// max_tokens does not cut a JSON answer in half whatever the model prefers (a random-weight model included). A
/// single token that lengthens that way by more than the reserve, just before it is reached, can still outrun it.
/// </para>
/// </summary>
public sealed class GrammarConstraint : ITokenConstraint
{
    /// <summary>Masks kept per sequence before the cache is emptied (a mask is VocabSize / 8 bytes).</summary>
    private const int MaskCacheLimit = 256;

    /// <summary>
    /// How many top frames of a stack its cached mask depends on (<see cref="ParseAutomaton.Truncate"/>). Three keep a
    /// JSON string's contents (character, the repetition, the closing quote) whole, so only tokens that close the string
    /// and go on are checked against the rest of the stack.
    /// </summary>
    private const int LocalFrames = 3;

    /// <summary>Tokens of slack left beyond the shortest completion before the output is steered to its end.</summary>
    public const int ClosingReserve = 16;

    /// <summary>Parse states a search for the shortest completion may expand before it gives up (no steering then).</summary>
    private const int CompletionSearchLimit = 4096;

    private readonly ParseAutomaton _automaton;
    private readonly ITokenizer _tokenizer;
    private readonly TokenTrie _trie;
    private readonly int[] _stopTokens;
    private readonly Dictionary<int, ulong[]> _masks = [];
    private readonly Dictionary<int, (ulong[] Accepted, int[] Uncertain)> _localMasks = [];
    private readonly Dictionary<int, byte[]?> _completions = [];
    private readonly int[] _stateAt;
    private readonly bool[] _leftAt;
    private int _state;
    private bool _stopped;

    /// <param name="grammar">What the output must be.</param>
    /// <param name="tokenizer">The model's tokenizer (its vocabulary's trie is built once and shared).</param>
    /// <param name="stopTokens">Ids that end generation; null: the tokenizer's end-of-sequence ids.</param>
    public GrammarConstraint(Grammar grammar, ITokenizer tokenizer, IReadOnlyList<int>? stopTokens = null)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _automaton = new ParseAutomaton(grammar.Compiled);
        _tokenizer = tokenizer;
        _trie = TokenTrie.For(tokenizer);
        _stopTokens = [.. stopTokens ?? tokenizer.EndOfSequence];
        if (_stopTokens.FirstOrDefault(t => t < 0) is < 0 and var negative)
            throw new ArgumentOutOfRangeException(nameof(stopTokens), negative, "stop token ids must be >= 0.");
        _stateAt = new int[_trie.MaxDepth + 1];
        _leftAt = new bool[_trie.MaxDepth + 1];
        _state = _automaton.Start;
    }

    /// <summary>
    /// What <see cref="SamplingOptions.Constraint"/> takes: a fresh constraint per sequence over one grammar. Builds the
    /// tokenizer's trie now (once per tokenizer), so the first token does not pay for it.
    /// </summary>
    public static Func<ITokenConstraint> Factory(Grammar grammar, ITokenizer tokenizer, IReadOnlyList<int>? stopTokens = null)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(tokenizer);
        TokenTrie.For(tokenizer);
        int[] stops = [.. stopTokens ?? tokenizer.EndOfSequence];
        return () => new GrammarConstraint(grammar, tokenizer, stops);
    }

    public bool IsComplete => _stopped || _automaton.IsAccepting(_state);

    /// <summary>How many parse states this sequence has met (a measure of the work cached).</summary>
    public int StateCount => _automaton.StateCount;

    /// <summary>Drops the cached masks (the parse states stay): the next <see cref="Mask"/> walks the trie again. For measurements.</summary>
    internal void ForgetMasks(bool positions = true)
    {
        _masks.Clear();
        if (positions) _localMasks.Clear();
    }

    /// <summary>The mask with no limit on the tokens left.</summary>
    public void Mask(Span<float> logits) => Mask(logits, int.MaxValue);

    public void Mask(Span<float> logits, int tokensLeft)
    {
        var allowed = _stopped ? StopsOnly() : Closing(tokensLeft) ?? AllowedTokens(_state);
        for (int word = 0, start = 0; start < logits.Length; word++, start += 64)
        {
            ulong bits = word < allowed.Length ? allowed[word] : 0;
            if (bits == ulong.MaxValue) continue;
            var span = logits.Slice(start, Math.Min(64, logits.Length - start));
            if (bits == 0)
            {
                span.Fill(float.NegativeInfinity);
                continue;
            }
            for (ulong forbidden = ~bits; forbidden != 0; forbidden &= forbidden - 1)
            {
                int i = BitOperations.TrailingZeroCount(forbidden);
                if (i >= span.Length) break;
                span[i] = float.NegativeInfinity;
            }
        }
    }

    public void Accept(int token)
    {
        if (_stopped) throw new InvalidOperationException($"token {token} came after the stop token that ended the output.");
        if (Array.IndexOf(_stopTokens, token) >= 0)
        {
            if (!IsSet(AllowedTokens(_state), token))
                throw new InvalidOperationException($"stop token {token} came before the output was complete.");
            _stopped = true;
            return;
        }
        if ((uint)token >= (uint)_trie.VocabSize || _tokenizer.IsSpecial(token))
            throw new InvalidOperationException($"token {token} is special or outside the vocabulary: the grammar never allows it.");
        int state = _state;
        foreach (byte b in _tokenizer.TokenBytes(token))
            if ((state = _automaton.Step(state, b)) == ParseAutomaton.Dead)
                throw new InvalidOperationException($"token {token} does not continue the grammar here (it was masked).");
        _state = state;
    }

    private static bool IsSet(ulong[] bits, int token) => (uint)(token >> 6) < (uint)bits.Length && (bits[token >> 6] >> token & 1) != 0;

    private ulong[] StopsOnly()
    {
        var bits = new ulong[WordCount()];
        foreach (int t in _stopTokens) bits[t >> 6] |= 1UL << t;
        return bits;
    }

    private int WordCount() => (Math.Max(_trie.VocabSize, _stopTokens.DefaultIfEmpty(0).Max() + 1) + 63) / 64;

    /// <summary>
    /// The tokens allowed in <paramref name="state"/>, as a bit set over ids (cached per state): the union, over the
    /// state's stacks, of what each stack's top frames allow before popping (<see cref="LocalMask"/>, cached per
    /// truncated stack, so a string's contents cost one trie walk per sequence whatever the string's place in the output), and
    /// of the few tokens that pop out of it, checked against the whole state.
    /// </summary>
    private ulong[] AllowedTokens(int state)
    {
        if (_masks.TryGetValue(state, out var cached)) return cached;
        if (_masks.Count >= MaskCacheLimit) _masks.Clear();
        var bits = new ulong[WordCount()];
        var stacks = _automaton.StacksOf(state);
        for (int i = 0; i < stacks.Length; i++)
        {
            if (stacks[i] <= 1) continue;
            int local = _automaton.Truncate(stacks[i], LocalFrames);
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) seen = stacks[j] > 1 && _automaton.Truncate(stacks[j], LocalFrames) == local;
            if (seen) continue;
            var (accepted, uncertain) = LocalMask(local);
            for (int w = 0; w < accepted.Length; w++) bits[w] |= accepted[w];
            foreach (int t in uncertain)
                if (!IsSet(bits, t) && Continues(state, _trie.TokenBytes(t))) bits[t >> 6] |= 1UL << t;
        }
        bool complete = _automaton.IsAccepting(state);
        bool any = false;
        foreach (int t in _stopTokens) bits[t >> 6] &= ~(1UL << t);
        foreach (ulong word in bits) any |= word != 0;
        // Stop tokens: once the output is complete; and, should the vocabulary offer no way on, as the way out.
        if (complete || !any)
            foreach (int t in _stopTokens) bits[t >> 6] |= 1UL << t;
        _masks[state] = bits;
        return bits;
    }

    /// <summary>
    /// Near the end of the budget, the tokens along the shortest completion (their bytes a prefix of it); the stop
    /// tokens once the output is complete; null while there is slack, or where no such token exists.
    /// </summary>
    private ulong[]? Closing(int tokensLeft)
    {
        if (tokensLeft == int.MaxValue || ShortestCompletion(_state) is not { } completion || tokensLeft > completion.Length + 1 + ClosingReserve) return null;
        if (completion.Length == 0) return StopsOnly();
        var bits = new ulong[WordCount()];
        bool any = false;
        var nodes = _trie.Nodes;
        var nextSame = _trie.NextSameBytes;
        // Down the trie along the completion: at each depth, find the child with the next byte among the siblings.
        for (int i = 0, depth = 1; depth <= completion.Length && i < nodes.Length;)
        {
            ref readonly var node = ref nodes[i];
            if (node.Depth < depth) break;
            if (node.Byte != completion[depth - 1])
            {
                i = node.SubtreeEnd;
                continue;
            }
            for (int t = node.Token; t >= 0; t = nextSame[t])
            {
                bits[t >> 6] |= 1UL << t;
                any = true;
            }
            i++;
            depth++;
        }
        return any ? bits : null;
    }

    /// <summary>
    /// The shortest bytes that make the output from <paramref name="state"/> a whole sentence (empty when it is one),
    /// found breadth-first over the automaton and cached with every state along it; null when the search gives up.
    /// </summary>
    private byte[]? ShortestCompletion(int state)
    {
        if (_completions.TryGetValue(state, out var known)) return known;
        var from = new Dictionary<int, (int State, byte Byte)> { [state] = (-1, 0) };
        var frontier = new Queue<int>();
        frontier.Enqueue(state);
        int found = -1;
        for (int expanded = 0; frontier.Count > 0 && expanded < CompletionSearchLimit; expanded++)
        {
            int current = frontier.Dequeue();
            if (_automaton.IsAccepting(current) || _completions.ContainsKey(current) && _completions[current] is not null)
            {
                found = current;
                break;
            }
            for (int b = 0; b < 256; b++)
            {
                int next = _automaton.Step(current, (byte)b);
                if (next == ParseAutomaton.Dead || from.ContainsKey(next)) continue;
                from[next] = (current, (byte)b);
                frontier.Enqueue(next);
            }
        }
        if (found < 0) return _completions[state] = null;
        // The way back to the start, then the cached rest (empty at an accepting state).
        var path = new List<(int State, byte Byte)>();
        for (int s = found; from[s].State >= 0; s = from[s].State) path.Add((from[s].State, from[s].Byte));
        path.Reverse();
        byte[] rest = _automaton.IsAccepting(found) ? [] : _completions[found]!;
        _completions[found] = rest;
        for (int i = path.Count - 1; i >= 0; i--)
        {
            byte[] completion = new byte[path.Count - i + rest.Length];
            for (int j = i; j < path.Count; j++) completion[j - i] = path[j].Byte;
            rest.CopyTo(completion, path.Count - i);
            _completions[path[i].State] = completion;
        }
        return _completions[state];
    }

    private bool Continues(int state, ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if ((state = _automaton.Step(state, b)) == ParseAutomaton.Dead) return false;
        return true;
    }

    /// <summary>
    /// What the truncated stack <paramref name="local"/> allows whatever lies below it: the tokens it reads whole
    /// without needing the context (accepted), and those it refuses only after popping into the context at some
    /// prefix (uncertain: the context decides). Every other token it refuses. One walk of the trie, pruned at every
    /// refused byte outside the uncertain subtrees.
    /// </summary>
    private (ulong[] Accepted, int[] Uncertain) LocalMask(int local)
    {
        if (_localMasks.TryGetValue(local, out var known)) return known;
        var accepted = new ulong[WordCount()];
        var uncertain = new List<int>();
        var nodes = _trie.Nodes;
        var nextSame = _trie.NextSameBytes;
        var stateAt = _stateAt;
        var leftAt = _leftAt;
        stateAt[0] = _automaton.StateOf(local);
        leftAt[0] = false;
        for (int i = 0; i < nodes.Length;)
        {
            ref readonly var node = ref nodes[i];
            int depth = node.Depth;
            int next = _automaton.Step(stateAt[depth - 1], node.Byte);
            if (next == ParseAutomaton.Dead)
            {
                if (leftAt[depth - 1])
                    for (int j = i; j < node.SubtreeEnd; j++)
                        for (int t = nodes[j].Token; t >= 0; t = nextSame[t]) uncertain.Add(t);
                i = node.SubtreeEnd;
                continue;
            }
            stateAt[depth] = next;
            leftAt[depth] = leftAt[depth - 1] || _automaton.LeftItsContext(next);
            for (int t = node.Token; t >= 0; t = nextSame[t]) accepted[t >> 6] |= 1UL << t;
            i++;
        }
        return _localMasks[local] = (accepted, [.. uncertain]);
    }
}
