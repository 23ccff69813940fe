using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.FrontEnd;

namespace Tessera.Generator.IR;

/// <summary>Builds the IR graph of a module from its lowered Forward: one node per step, names made unique, dead steps dropped.</summary>
internal static class GraphBuilder
{
    public static IrGraph Build(ModuleInfo module, bool isModel, ModelInfo model)
    {
        var steps = module.Forward.Steps;
        var live = LiveSteps(module.Forward);
        var values = new Dictionary<int, IrValue>();
        var nodes = new List<IrNode>();
        var usedNames = new Dictionary<string, int>();
        IrValue? input = null;

        foreach (var step in steps)
        {
            if (!live.Contains(step.Id)) continue;
            var output = new IrValue(nodes.Count, UniqueName(step.Name, usedNames));
            var inputs = step.Inputs.Select(i => values[i]).ToList();
            var node = step.Kind switch
            {
                StepKind.Parameter => new IrNode(nodes.Count, isModel ? OpKind.Tokens : OpKind.Input, output, inputs),
                StepKind.Module => ModuleNode(nodes.Count, module.Weights.First(w => w.Name == step.Target), output, inputs),
                StepKind.Layers => new IrNode(nodes.Count, OpKind.Layers, output, inputs) { LayersField = module.Layers },
                StepKind.Mixture => new IrNode(nodes.Count, OpKind.Mixture, output, inputs) { ExpertsField = module.Experts },
                StepKind.Add => new IrNode(nodes.Count, OpKind.Add, output, inputs),
                StepKind.Mul => new IrNode(nodes.Count, OpKind.Mul, output, inputs),
                StepKind.Select => new IrNode(nodes.Count, OpKind.Select, output, inputs) { Arguments = step.Args.Select(SizeExpr.Parse).ToList() },
                _ => new IrNode(nodes.Count, OpKindOf(step.Target), output, inputs) { Arguments = step.Args.Select(SizeExpr.Parse).ToList() },
            };
            node = new IrNode(node.Index, node.Kind, node.Output, node.Inputs)
            {
                Module = node.Module,
                LayersField = node.LayersField,
                ExpertsField = node.ExpertsField,
                Arguments = node.Arguments,
                Source = step.Source,
                Location = step.Location,
            };
            output.Producer = node;
            foreach (var i in inputs) i.Consumers.Add(node);
            if (node.Kind is OpKind.Tokens or OpKind.Input) input ??= output;
            values[step.Id] = output;
            nodes.Add(node);
        }

        return new IrGraph(module.TypeName, nodes, input ?? values[module.Forward.Result], values[module.Forward.Result]);
    }

    private static IrNode ModuleNode(int index, WeightFieldInfo weight, IrValue output, List<IrValue> inputs) =>
        new(index, weight.Kind switch
        {
            ModuleKind.Embedding => OpKind.Embedding,
            ModuleKind.PositionEmbedding => OpKind.PositionEmbedding,
            ModuleKind.Linear => OpKind.Linear,
            ModuleKind.RmsNorm => OpKind.RmsNorm,
            _ => OpKind.LayerNorm,
        }, output, inputs) { Module = weight };

    /// <summary>Maps a Tessera.Ops method to its IR op. The front end only lets through methods of that class.</summary>
    public static OpKind OpKindOf(string name) => name switch
    {
        "Rope" => OpKind.Rope,
        "Attention" => OpKind.Attention,
        "Silu" => OpKind.Silu,
        "Gelu" => OpKind.Gelu,
        "Sigmoid" => OpKind.Sigmoid,
        "SoftCap" => OpKind.SoftCap,
        "Scale" => OpKind.Scale,
        "Chunk" => OpKind.Chunk,
        "Route" => OpKind.Route,
        _ => throw new System.InvalidOperationException($"op '{name}' has no lowering"),
    };

    /// <summary>Steps the result depends on (parameters always count: a block's input is its input even if unused).</summary>
    private static HashSet<int> LiveSteps(ForwardProgram program)
    {
        var live = new HashSet<int>();
        var stack = new Stack<int>();
        stack.Push(program.Result);
        foreach (var p in program.Steps.Where(s => s.Kind == StepKind.Parameter)) stack.Push(p.Id);
        while (stack.Count > 0)
        {
            int id = stack.Pop();
            if (!live.Add(id)) continue;
            foreach (var i in program.Steps[id].Inputs) stack.Push(i);
        }
        return live;
    }

    private static string UniqueName(string name, Dictionary<string, int> used)
    {
        string clean = new string(name.Select(c => char.IsLetterOrDigit(c) ? c : '_').ToArray());
        if (clean.Length == 0 || char.IsDigit(clean[0])) clean = "v" + clean;
        if (!used.TryGetValue(clean, out int n))
        {
            used[clean] = 1;
            return clean;
        }
        used[clean] = n + 1;
        return clean + (n + 1);
    }
}
