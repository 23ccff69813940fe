using System.Runtime.CompilerServices;

namespace Tessera.Generation.Grammars;

/// <summary>
/// The parser of a <see cref="CompiledGrammar"/> as a lazily built DFA. A parse configuration is llama.cpp's set of
/// stacks: each stack is a node (its top: the position of the byte class to match next; its parent: the rest), nodes
/// are hash-consed, so a stack is an int and a set of stacks is a sorted int[], itself interned as a state. A state's
/// transition on a byte is computed once (advance every stack whose class takes the byte, then expand references
/// until each top is a byte class) and then read from a table: after warm-up a step is one array load. Node 0 is the
/// empty stack (the whole input is a sentence); state 0 (<see cref="Dead"/>) is the empty set.
/// Grows with the configurations a sequence meets, so one instance serves one sequence. Not thread-safe.
/// </summary>
internal sealed class ParseAutomaton
{
    public const int Dead = 0;
    private const int Unknown = -1;

    private readonly CompiledGrammar _grammar;
    private readonly List<int> _nodeTop = [-1];
    private readonly List<int> _nodeParent = [-1];
    private readonly Dictionary<long, int> _nodes = [];
    private readonly List<int[]> _states = [[]];
    private readonly List<bool> _accepting = [false];
    private readonly Dictionary<int[], int> _stateIds = new(StackSetComparer.Instance) { [[]] = Dead };
    private int[] _transitions = new int[256 * 64];

    private readonly HashSet<long> _visited = [];
    private readonly Stack<(int Position, int Parent)> _work = new();
    private readonly List<int> _found = [];

    public ParseAutomaton(CompiledGrammar grammar)
    {
        _grammar = grammar;
        // The dead state's transitions are already 0 (dead); the rest start unknown.
        _transitions.AsSpan(256).Fill(Unknown);
        _found.Clear();
        foreach (int start in grammar.Alternatives[grammar.Root]) Expand(start, 0);
        Start = Intern();
    }

    public int Start { get; }

    /// <summary>How many states have been met so far.</summary>
    public int StateCount => _states.Count;

    /// <summary>Whether the input read to this state is a whole sentence.</summary>
    public bool IsAccepting(int state) => _accepting[state];

    /// <summary>The state after one more byte (<see cref="Dead"/>: the byte cannot follow).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Step(int state, byte b)
    {
        int next = _transitions[state << 8 | b];
        return next != Unknown ? next : Compute(state, b);
    }

    private int Compute(int state, byte b)
    {
        _found.Clear();
        _visited.Clear();
        var elements = _grammar.Elements;
        foreach (int stack in _states[state])
        {
            if (stack == 0) continue;
            int top = _nodeTop[stack];
            if (_grammar.Classes[elements[top]].Contains(b)) Expand(top + 1, _nodeParent[stack]);
        }
        int next = Intern();
        _transitions[state << 8 | b] = next;
        return next;
    }

    /// <summary>Adds to <see cref="_found"/> every stack that continues at <paramref name="position"/> under <paramref name="parent"/>, expanded until its top is a byte class.</summary>
    private void Expand(int position, int parent)
    {
        var elements = _grammar.Elements;
        _work.Push((position, parent));
        while (_work.TryPop(out var item))
        {
            (position, parent) = item;
            if (!_visited.Add((long)position << 32 | (uint)parent)) continue;
            int element = elements[position];
            if (element == CompiledGrammar.End)
            {
                if (parent == 0) _found.Add(0);
                else _work.Push((_nodeTop[parent], _nodeParent[parent]));
            }
            else if (!CompiledGrammar.IsReference(element)) _found.Add(Node(position, parent));
            else
            {
                // A reference in tail position returns straight to the parent: right recursion keeps the stack flat.
                int next = elements[position + 1] == CompiledGrammar.End ? parent : Node(position + 1, parent);
                foreach (int start in _grammar.Alternatives[CompiledGrammar.RuleOfElement(element)]) _work.Push((start, next));
            }
        }
    }

    private int Node(int top, int parent)
    {
        long key = (long)top << 32 | (uint)parent;
        if (_nodes.TryGetValue(key, out int id)) return id;
        id = _nodeTop.Count;
        _nodeTop.Add(top);
        _nodeParent.Add(parent);
        _nodes[key] = id;
        return id;
    }

    private int Intern()
    {
        _found.Sort();
        int distinct = 0;
        for (int i = 0; i < _found.Count; i++)
            if (i == 0 || _found[i] != _found[i - 1]) _found[distinct++] = _found[i];
        var stacks = _found.GetRange(0, distinct).ToArray();
        if (_stateIds.TryGetValue(stacks, out int id)) return id;
        id = _states.Count;
        _states.Add(stacks);
        _accepting.Add(stacks.Length > 0 && stacks[0] == 0);
        _stateIds[stacks] = id;
        if ((id + 1) << 8 > _transitions.Length)
        {
            int old = _transitions.Length;
            Array.Resize(ref _transitions, old * 2);
            _transitions.AsSpan(old).Fill(Unknown);
        }
        return id;
    }

    private sealed class StackSetComparer : IEqualityComparer<int[]>
    {
        public static readonly StackSetComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(int[] stacks)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(stacks.AsSpan()));
            return hash.ToHashCode();
        }
    }
}
