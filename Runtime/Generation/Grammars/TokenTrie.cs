using System.Runtime.CompilerServices;
using Tessera.Text;

namespace Tessera.Generation.Grammars;

/// <summary>
/// A tokenizer's vocabulary as a byte trie, flattened in depth-first order: node i has its byte, its depth (1 for a
/// token's first byte), the index just past its subtree (so a rejected prefix skips every token under it in one jump)
/// and the token ending there (others with the same bytes chained through <see cref="NextSameBytes"/>). Holds every
/// token except special ones and empty ones. Built once per tokenizer (<see cref="For"/>) and shared: immutable.
/// </summary>
public sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<ITokenizer, TokenTrie> Cache = new();

    /// <summary>One node: its byte, its depth, the end of its subtree, the first token ending here (-1: none).</summary>
    internal readonly record struct Node(byte Byte, int Depth, int SubtreeEnd, int Token);

    private TokenTrie(ITokenizer tokenizer)
    {
        VocabSize = tokenizer.VocabSize;
        var ids = new List<int>();
        var bytes = new byte[VocabSize][];
        for (int id = 0; id < VocabSize; id++)
        {
            if (tokenizer.IsSpecial(id)) continue;
            var tokenBytes = tokenizer.TokenBytes(id);
            if (tokenBytes.IsEmpty) continue;
            bytes[id] = tokenBytes.ToArray();
            ids.Add(id);
        }
        ids.Sort((a, b) => bytes[a].AsSpan().SequenceCompareTo(bytes[b]) is int c and not 0 ? c : a.CompareTo(b));

        var nodes = new List<Node>();
        var open = new Stack<int>(); // nodes whose subtree is still being written, deepest on top
        NextSameBytes = new int[VocabSize];
        Array.Fill(NextSameBytes, -1);
        byte[] previous = [];
        int previousNode = -1;
        foreach (int id in ids)
        {
            byte[] token = bytes[id];
            if (token.AsSpan().SequenceEqual(previous))
            {
                // Same bytes as the token before: chain it behind that node's token.
                int t = nodes[previousNode].Token;
                while (NextSameBytes[t] >= 0) t = NextSameBytes[t];
                NextSameBytes[t] = id;
                continue;
            }
            int common = token.AsSpan().CommonPrefixLength(previous);
            while (open.Count > common) Close(open.Pop());
            for (int depth = common + 1; depth <= token.Length; depth++)
            {
                open.Push(nodes.Count);
                nodes.Add(new Node(token[depth - 1], depth, 0, depth == token.Length ? id : -1));
            }
            previous = token;
            previousNode = nodes.Count - 1;
            MaxDepth = Math.Max(MaxDepth, token.Length);
            TokenCount++;
        }
        while (open.Count > 0) Close(open.Pop());
        Nodes = [.. nodes];
        Offsets = new int[VocabSize + 1];
        for (int id = 0; id < VocabSize; id++) Offsets[id + 1] = Offsets[id] + (bytes[id]?.Length ?? 0);
        Bytes = new byte[Offsets[VocabSize]];
        for (int id = 0; id < VocabSize; id++) bytes[id]?.CopyTo(Bytes, Offsets[id]);

        void Close(int node) => nodes[node] = nodes[node] with { SubtreeEnd = nodes.Count };
    }

    /// <summary>The trie of <paramref name="tokenizer"/>'s vocabulary, built on first use and kept while the tokenizer lives.</summary>
    public static TokenTrie For(ITokenizer tokenizer) => Cache.GetValue(tokenizer, t => new TokenTrie(t));

    /// <summary>The tokenizer's vocabulary size (ids in the trie are below it).</summary>
    public int VocabSize { get; }

    /// <summary>How many distinct byte strings the trie holds.</summary>
    public int TokenCount { get; }

    /// <summary>The longest token, in bytes.</summary>
    public int MaxDepth { get; }

    internal Node[] Nodes { get; }

    /// <summary>The bytes of every token in the trie, by id (<see cref="Offsets"/>); none for the others.</summary>
    internal byte[] Bytes { get; }

    internal int[] Offsets { get; }

    /// <summary>The bytes of a token (empty for special and empty tokens).</summary>
    internal ReadOnlySpan<byte> TokenBytes(int id) => Bytes.AsSpan(Offsets[id], Offsets[id + 1] - Offsets[id]);

    /// <summary>Per token id: the next token with the same bytes, -1 at the end of the chain.</summary>
    internal int[] NextSameBytes { get; }
}
