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

    private readonly ParseAutomaton _automaton;
    private readonly ITokenizer _tokenizer;
    private readonly TokenTrie _trie;
    private readonly int[] _stopTokens;
    private readonly Dictionary<int, ulong[]> _masks = [];
    private readonly Dictionary<int, (ulong[] Accepted, int[] Uncertain)> _localMasks = [];
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

    public void Mask(Span<float> logits)
    {
        var allowed = _stopped ? StopsOnly() : AllowedTokens(_state);
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
