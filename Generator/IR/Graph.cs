using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.FrontEnd;

namespace Tessera.Generator.IR;

/// <summary>The operations of the IR.</summary>
internal enum OpKind
{
    /// <summary>The token ids of the batch (T).</summary>
    Tokens,
    /// <summary>A block's input activations.</summary>
    Input,
    Embedding,
    PositionEmbedding,
    Linear,
    RmsNorm,
    LayerNorm,
    Rope,
    Attention,
    Silu,
    Gelu,
    /// <summary>1 / (1 + exp(-x)).</summary>
    Sigmoid,
    /// <summary>c · tanh(x / c) with its cap as the argument (0: none).</summary>
    SoftCap,
    /// <summary>x times its argument (a scalar expression).</summary>
    Scale,
    Add,
    Mul,
    Chunk,
    /// <summary>The loop over a [Layers] field; its body is the block's graph.</summary>
    Layers,
    /// <summary>A router's top-k decision from its logits (T, E); the value is the routing, not activations.</summary>
    Route,
    /// <summary>The experts of an [Experts] field over the tokens routed to each; its body is the expert's graph.</summary>
    Mixture,
    /// <summary>condition ? a : b (the argument is the condition): only the side chosen is computed (see Passes/Predication).</summary>
    Select,
}

/// <summary>A tensor of the IR: (T, Width) activations, or the token ids.</summary>
internal sealed class IrValue(int id, string name)
{
    public int Id { get; } = id;

    /// <summary>A readable name made unique within its graph.</summary>
    public string Name { get; set; } = name;

    /// <summary>The feature width; set by shape inference.</summary>
    public SizeExpr Width { get; set; } = SizeExpr.Constant(0);

    public IrNode Producer { get; set; } = null!;

    public List<IrNode> Consumers { get; } = new();

    public override string ToString() => Name;
}

/// <summary>One operation: inputs, output, and what it needs (module weights, size arguments).</summary>
internal sealed class IrNode(int index, OpKind kind, IrValue output, IReadOnlyList<IrValue> inputs)
{
    /// <summary>Position in the graph's topological order.</summary>
    public int Index { get; } = index;

    public OpKind Kind { get; } = kind;

    public IrValue Output { get; } = output;

    public IReadOnlyList<IrValue> Inputs { get; } = inputs;

    /// <summary>The module field applied (embeddings, Linear, norms).</summary>
    public WeightFieldInfo? Module { get; init; }

    /// <summary>The [Layers] field (Layers nodes).</summary>
    public LayersFieldInfo? LayersField { get; init; }

    /// <summary>The [Experts] field (Mixture nodes).</summary>
    public ExpertsFieldInfo? ExpertsField { get; init; }

    /// <summary>
    /// Scalar arguments of ops (Rope: heads, theta, scaling, rotary fraction; Attention: heads, kvHeads, scale, soft-cap,
    /// window; Chunk: index, count; Route: k, renormalize; SoftCap: cap; Scale: factor; Select: condition).
    /// </summary>
    public IReadOnlyList<SizeExpr> Arguments { get; init; } = new List<SizeExpr>();

    /// <summary>The expression in the model source, quoted in generated comments.</summary>
    public string Source { get; init; } = "";

    public LocationInfo? Location { get; init; }

    public bool IsElementwise => Kind is OpKind.Silu or OpKind.Gelu or OpKind.Sigmoid or OpKind.SoftCap or OpKind.Scale or OpKind.Add or OpKind.Mul;

    /// <summary>When the node runs: always, or under the conditions of the Selects it feeds (set by Passes/Predication).</summary>
    public Passes.Predicate Predicate { get; set; } = Passes.Predicate.Always;
}

/// <summary>The dataflow graph of one module's Forward, in topological order.</summary>
internal sealed class IrGraph(string moduleName, IReadOnlyList<IrNode> nodes, IrValue input, IrValue result)
{
    public string ModuleName { get; } = moduleName;

    public IReadOnlyList<IrNode> Nodes { get; } = nodes;

    /// <summary>The token ids (model) or the input activations (block).</summary>
    public IrValue Input { get; } = input;

    public IrValue Result { get; } = result;

    public IEnumerable<IrValue> Values => Nodes.Select(n => n.Output);

    /// <summary>One line per node, for debugging and for tests.</summary>
    public string Dump() =>
        string.Join("\n", Nodes.Select(n => $"{n.Output.Name} (T, {n.Output.Width}) = {n.Kind}({string.Join(", ", n.Inputs.Select(i => i.Name).Concat(n.Arguments.Select(a => a.ToString())))})"));
}
