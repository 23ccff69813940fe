using System.Runtime.CompilerServices;

namespace Tessera.Generation.Grammars;

/// <summary>
/// The parser of a <see cref="CompiledGrammar"/> as a lazily built DFA. A parse configuration is llama.cpp's set of
/// stacks: each stack is a node (its top: the position of the byte class to match next; its parent: the rest), nodes
/// are hash-consed, so a stack is an int and a set of stacks is a sorted int[], itself interned as a state. A state's
/// transition on a byte is computed once (advance every stack whose class takes the byte, then expand references
/// until each top is a byte class) and then read from a table: after warm-up a step is one array load. Node 0 is the
/// empty stack (the whole input is a sentence); state 0 (<see cref="Dead"/>) is the empty set. Node 1 stands for an
/// unknown context below a stack (<see cref="Truncate"/>): a stack that pops into it becomes node 1 itself, so a state
/// holding it says "the input so far may go on in whatever the context is" (<see cref="LeftItsContext"/>).
/// Grows with the configurations a sequence meets, so one instance serves one sequence. Not thread-safe.
/// </summary>
internal sealed class ParseAutomaton
{
    public const int Dead = 0;
    private const int EmptyStack = 0, Context = 1;
    private const int Unknown = -1;

    private readonly CompiledGrammar _grammar;
    private readonly List<int> _nodeTop = [-1, -1];
    private readonly List<int> _nodeParent = [-1, -1];
    private readonly Dictionary<long, int> _nodes = [];
    private readonly List<int[]> _states = [[]];
    private bool[] _accepting = new bool[64];
    private bool[] _leftContext = new bool[64];
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

    /// <summary>Whether some stack of the state popped into the unknown context of a <see cref="Truncate"/>d stack.</summary>
    public bool LeftItsContext(int state) => _leftContext[state];

    /// <summary>The stacks of a state, sorted (0: the empty stack; 1: the unknown context).</summary>
    public ReadOnlySpan<int> StacksOf(int state) => _states[state];

    /// <summary>
    /// The stack made of the top <paramref name="frames"/> frames of <paramref name="stack"/> over an unknown context
    /// (node 1); the stack itself when it has no more frames than that. What a stack reads before it pops past its top
    /// frames is the same whatever lies below them, so masks computed for the truncated stack serve every stack that
    /// shares those frames (every string of a JSON text shares its contents' frames).
    /// </summary>
    public int Truncate(int stack, int frames)
    {
        Span<int> tops = stackalloc int[frames];
        int n = 0;
        while (n < frames && stack > Context)
        {
            tops[n++] = _nodeTop[stack];
            stack = _nodeParent[stack];
        }
        int node = stack == EmptyStack ? EmptyStack : Context;
        for (int i = n - 1; i >= 0; i--) node = Node(tops[i], node);
        return node;
    }

    /// <summary>The state of one stack alone (a <see cref="Truncate"/>d one).</summary>
    public int StateOf(int stack)
    {
        _found.Clear();
        _found.Add(stack);
        return Intern();
    }

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
            if (stack <= Context) continue;
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
                if (parent <= Context) _found.Add(parent);
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
        if (id == _accepting.Length)
        {
            Array.Resize(ref _accepting, id * 2);
            Array.Resize(ref _leftContext, id * 2);
        }
        _accepting[id] = stacks.Length > 0 && stacks[0] == EmptyStack;
        _leftContext[id] = stacks.Length > 0 && (stacks[0] == Context || stacks.Length > 1 && stacks[1] == Context);
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
