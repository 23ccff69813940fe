using static Tessera.Generation.Grammars.GrammarExpression;

namespace Tessera.Generation.Grammars;

/// <summary>
/// A <see cref="Grammar"/> flattened as llama.cpp's grammar engine holds one: every rule (named, or made for a nested
/// choice or a repetition) is a list of alternatives, each a run of elements in <see cref="Elements"/> ending with
/// <see cref="End"/>. An element is a byte class (its index in <see cref="Classes"/>, &gt;= 0) or a rule reference
/// (-(rule + 2)). Repetitions become right-recursive rules (x* is R ::= x R | ε), which the parser runs in constant
/// stack depth (a reference in tail position pushes no return frame).
/// </summary>
internal sealed class CompiledGrammar
{
    public const int End = -1;

    private readonly List<int> _elements = [];
    private readonly List<ByteSet> _classes = [];
    private readonly Dictionary<ByteSet, int> _classIds = [];
    private readonly List<int[]> _alternatives = [];
    private readonly List<string> _ruleNames = [];
    private readonly Dictionary<string, int> _ruleIds = [];
    private readonly Dictionary<string, GrammarExpression> _bodies = [];

    public CompiledGrammar(IReadOnlyList<(string Name, GrammarExpression Body)> rules, string root)
    {
        foreach (var (name, body) in rules)
        {
            if (!_bodies.TryAdd(name, body)) throw new ArgumentException($"grammar rule '{name}' is defined twice.");
            RuleOf(name);
        }
        if (!_bodies.ContainsKey(root)) throw new ArgumentException($"grammar root rule '{root}' is not defined.");
        foreach (var (name, body) in rules) Emit(_ruleIds[name], body);
        Root = _ruleIds[root];
        Elements = [.. _elements];
        Classes = [.. _classes];
        Alternatives = [.. _alternatives];
        RuleNames = [.. _ruleNames];
        RefuseLeftRecursion();
    }

    public int[] Elements { get; }

    public ByteSet[] Classes { get; }

    /// <summary>Per rule: where each of its alternatives starts in <see cref="Elements"/>.</summary>
    public int[][] Alternatives { get; }

    public string[] RuleNames { get; }

    public int Root { get; }

    public static bool IsReference(int element) => element < End;

    public static int RuleOfElement(int element) => -element - 2;

    private int RuleOf(string name)
    {
        if (_ruleIds.TryGetValue(name, out int id)) return id;
        if (!_bodies.ContainsKey(name)) throw new ArgumentException($"grammar rule '{name}' is referenced but not defined.");
        id = _ruleNames.Count;
        _ruleIds[name] = id;
        _ruleNames.Add(name);
        _alternatives.Add(null!);
        return id;
    }

    private int NewRule(string hint)
    {
        int id = _ruleNames.Count;
        _ruleNames.Add($"{hint}#{id}");
        _alternatives.Add(null!);
        return id;
    }

    /// <summary>Writes a rule's alternatives (a choice body gives several, anything else one).</summary>
    private void Emit(int rule, GrammarExpression body)
    {
        var alternatives = body is Choice choice ? choice.Alternatives.ToList() : [body];
        // Elements are written after the nested rules the alternatives need are made, so each run stays contiguous.
        var runs = alternatives.Select(alternative => Flatten(alternative, rule)).ToList();
        var starts = new int[runs.Count];
        for (int i = 0; i < runs.Count; i++)
        {
            starts[i] = _elements.Count;
            _elements.AddRange(runs[i]);
            _elements.Add(End);
        }
        _alternatives[rule] = starts;
    }

    private List<int> Flatten(GrammarExpression expression, int owner)
    {
        var run = new List<int>();
        Append(expression, run, owner);
        return run;
    }

    private void Append(GrammarExpression expression, List<int> run, int owner)
    {
        switch (expression)
        {
            case Literal literal:
                foreach (byte b in literal.Bytes) run.Add(ClassOf(ByteSet.Of(b)));
                break;
            case Class @class:
                if (@class.Set.IsEmpty) throw new ArgumentException("a grammar byte class must not be empty.");
                run.Add(ClassOf(@class.Set));
                break;
            case Sequence sequence:
                foreach (var item in sequence.Items) Append(item, run, owner);
                break;
            case Choice choice:
                int nested = NewRule(_ruleNames[owner]);
                Emit(nested, choice);
                run.Add(-nested - 2);
                break;
            case Reference reference:
                run.Add(-RuleOf(reference.Name) - 2);
                break;
            case Repeat repeat:
                for (int i = 0; i < repeat.Min; i++) Append(repeat.Item, run, owner);
                if (repeat.Max is null)
                {
                    // R ::= item R | ε
                    int star = NewRule(_ruleNames[owner]);
                    var first = Flatten(repeat.Item, owner);
                    first.Add(-star - 2);
                    WriteOptional(star, first);
                    run.Add(-star - 2);
                }
                else if (repeat.Max > repeat.Min)
                {
                    // O_k ::= item O_(k-1) | ε, O_1 ::= item | ε: at most k more.
                    int tail = -1;
                    for (int k = 1; k <= repeat.Max - repeat.Min; k++)
                    {
                        int optional = NewRule(_ruleNames[owner]);
                        var first = Flatten(repeat.Item, owner);
                        if (tail >= 0) first.Add(-tail - 2);
                        WriteOptional(optional, first);
                        tail = optional;
                    }
                    run.Add(-tail - 2);
                }
                break;
            default:
                throw new ArgumentException($"unknown grammar expression {expression.GetType().Name}.");
        }
    }

    private int ClassOf(ByteSet set)
    {
        if (_classIds.TryGetValue(set, out int id)) return id;
        _classIds[set] = id = _classes.Count;
        _classes.Add(set);
        return id;
    }

    /// <summary>rule ::= run | ε</summary>
    private void WriteOptional(int rule, List<int> run)
    {
        int start = _elements.Count;
        _elements.AddRange(run);
        _elements.Add(End);
        _alternatives[rule] = [start, _elements.Count];
        _elements.Add(End);
    }

    /// <summary>
    /// Refuses a rule that can reach itself before reading a byte through a reference that is not in tail position
    /// (A ::= A "x", or A ::= B "x" with B ::= A): the parser's stack would grow without end. Tail references (the
    /// right recursion repetitions compile to) push no frame and are fine. Tarjan's components over the "can start
    /// with" graph: an edge inside one component that is not a tail reference is left recursion.
    /// </summary>
    private void RefuseLeftRecursion()
    {
        int n = Alternatives.Length;
        var nullable = new bool[n];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int r = 0; r < n; r++)
                if (!nullable[r] && Alternatives[r].Any(start => AllNullable(start)))
                    changed = nullable[r] = true;
        }
        bool AllNullable(int i)
        {
            for (; Elements[i] != End; i++)
                if (!IsReference(Elements[i]) || !nullable[RuleOfElement(Elements[i])]) return false;
            return true;
        }

        var edges = new List<(int To, bool Tail)>[n];
        for (int r = 0; r < n; r++)
        {
            edges[r] = [];
            foreach (int start in Alternatives[r])
                for (int i = start; Elements[i] != End && IsReference(Elements[i]); i++)
                {
                    int target = RuleOfElement(Elements[i]);
                    edges[r].Add((target, Elements[i + 1] == End));
                    if (!nullable[target]) break;
                }
        }

        var component = StronglyConnectedComponents(n, r => edges[r].Select(e => e.To));
        for (int r = 0; r < n; r++)
            foreach (var (to, tail) in edges[r])
                if (!tail && component[to] == component[r])
                    throw new ArgumentException($"grammar rule '{RuleNames[r]}' is left-recursive (it can reach itself through '{RuleNames[to]}' before matching a byte).");
    }

    /// <summary>Tarjan's algorithm, iterative: the component number of each vertex.</summary>
    private static int[] StronglyConnectedComponents(int n, Func<int, IEnumerable<int>> next)
    {
        var index = new int[n];
        var low = new int[n];
        var component = new int[n];
        var onStack = new bool[n];
        Array.Fill(index, -1);
        var stack = new Stack<int>();
        var work = new Stack<(int Vertex, IEnumerator<int> Edges)>();
        int counter = 0, components = 0;
        for (int root = 0; root < n; root++)
        {
            if (index[root] >= 0) continue;
            Visit(root);
            while (work.Count > 0)
            {
                var (v, edges) = work.Peek();
                if (edges.MoveNext())
                {
                    int w = edges.Current;
                    if (index[w] < 0) Visit(w);
                    else if (onStack[w]) low[v] = Math.Min(low[v], index[w]);
                    continue;
                }
                work.Pop();
                if (work.Count > 0) low[work.Peek().Vertex] = Math.Min(low[work.Peek().Vertex], low[v]);
                if (low[v] != index[v]) continue;
                int u;
                do
                {
                    u = stack.Pop();
                    onStack[u] = false;
                    component[u] = components;
                } while (u != v);
                components++;
            }
        }
        return component;

        void Visit(int v)
        {
            index[v] = low[v] = counter++;
            stack.Push(v);
            onStack[v] = true;
            work.Push((v, next(v).GetEnumerator()));
        }
    }
}
