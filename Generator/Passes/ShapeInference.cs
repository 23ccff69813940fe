using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// Gives every IR value its width (an expression over config fields) and collects the conditions the sizes must meet
/// for the model to make sense. The root graph's Layers node passes its input width to the block graph, and a block's
/// Mixture node its tokens' width to the expert graph.
/// </summary>
internal static class ShapeInference
{
    public static List<ShapeConstraint> Run(IrGraph root, IrGraph? block, IrGraph? expert = null)
    {
        var constraints = new List<ShapeConstraint>();
        Infer(root, block, expert, constraints);
        return constraints;
    }

    private static void Infer(IrGraph graph, IrGraph? block, IrGraph? expert, List<ShapeConstraint> constraints)
    {
        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs;
            string subject = node.Module is { } m ? $"{node.Kind} '{m.Name}'" : $"{node.Kind}";
            void Equal(SizeExpr given, SizeExpr expected) => constraints.Add(new ShapeConstraint(given, expected, Relation.Equal, subject, node.Location));
            void Divisible(SizeExpr given, SizeExpr by) => constraints.Add(new ShapeConstraint(given, by, Relation.Divisible, subject, node.Location));

            switch (node.Kind)
            {
                case OpKind.Tokens:
                    node.Output.Width = SizeExpr.Constant(1);
                    break;
                case OpKind.Input:
                    // Set by the Layers node of the root graph before the block is inferred.
                    break;
                case OpKind.Embedding:
                case OpKind.PositionEmbedding:
                    node.Output.Width = SizeExpr.Parse(node.Module!.In!);
                    break;
                case OpKind.Linear:
                    Equal(inputs[0].Width, SizeExpr.Parse(node.Module!.In!));
                    node.Output.Width = SizeExpr.Parse(node.Module.Out!);
                    break;
                case OpKind.RmsNorm:
                case OpKind.LayerNorm:
                    // A per-head norm normalises each In-wide group of its input (q_norm over the heads of q).
                    if (node.Module!.PerHead) Divisible(inputs[0].Width, SizeExpr.Parse(node.Module.In!));
                    else Equal(inputs[0].Width, SizeExpr.Parse(node.Module.In!));
                    node.Output.Width = inputs[0].Width;
                    break;
                case OpKind.Rope:
                    Divisible(inputs[0].Width, node.Arguments[0]);
                    Divisible(HeadDim(inputs[0].Width, node.Arguments[0]), SizeExpr.Constant(2));
                    node.Output.Width = inputs[0].Width;
                    break;
                case OpKind.Attention:
                    {
                        SizeExpr heads = node.Arguments[0], kvHeads = node.Arguments[1];
                        Divisible(inputs[0].Width, heads);
                        Divisible(inputs[1].Width, kvHeads);
                        Divisible(heads, kvHeads);
                        Equal(inputs[2].Width, inputs[1].Width);
                        Equal(HeadDim(inputs[1].Width, kvHeads), HeadDim(inputs[0].Width, heads));
                        node.Output.Width = inputs[0].Width;
                        break;
                    }
                case OpKind.Silu:
                case OpKind.Gelu:
                case OpKind.Sigmoid:
                case OpKind.SoftCap:
                case OpKind.Scale:
                    node.Output.Width = inputs[0].Width;
                    break;
                case OpKind.Mul when IsScalarPerRow(inputs[0]) != IsScalarPerRow(inputs[1]):
                    // A (T, 1) operand (a per-token gate) multiplies every feature of its row.
                    node.Output.Width = IsScalarPerRow(inputs[0]) ? inputs[1].Width : inputs[0].Width;
                    break;
                case OpKind.Add:
                case OpKind.Mul:
                case OpKind.Select:
                    Equal(inputs[1].Width, inputs[0].Width);
                    node.Output.Width = inputs[0].Width;
                    break;
                case OpKind.Chunk:
                    Divisible(inputs[0].Width, node.Arguments[1]);
                    node.Output.Width = SizeExpr.Divide(inputs[0].Width, node.Arguments[1]);
                    break;
                case OpKind.Layers:
                    node.Output.Width = inputs[0].Width;
                    if (block is not null)
                    {
                        block.Input.Width = inputs[0].Width;
                        Infer(block, null, expert, constraints);
                        constraints.Add(new ShapeConstraint(block.Result.Width, inputs[0].Width, Relation.Equal,
                            $"the residual stream through '{node.LayersField!.Name}' (a block must return the width it is given)", node.Location));
                    }
                    break;
                case OpKind.Route:
                    // The routing of each token: k (expert, weight) pairs.
                    node.Output.Width = node.Arguments[0];
                    break;
                case OpKind.Mixture:
                    {
                        var experts = node.ExpertsField!;
                        var count = SizeExpr.Named(experts.Count);
                        var route = inputs[1].Producer;
                        // One router logit per expert; 1 <= k <= experts (top-k bounds: reported as such, at the Route call).
                        constraints.Add(new ShapeConstraint(route.Inputs[0].Width, count, Relation.Equal, $"the router logits of '{experts.Name}' (one per expert)", route.Location));
                        constraints.Add(new ShapeConstraint(route.Arguments[0], SizeExpr.Constant(1), Relation.AtLeast, "Route", route.Location));
                        constraints.Add(new ShapeConstraint(route.Arguments[0], count, Relation.AtMost, "Route", route.Location));
                        node.Output.Width = inputs[0].Width;
                        if (expert is not null)
                        {
                            expert.Input.Width = inputs[0].Width;
                            Infer(expert, null, null, constraints);
                            node.Output.Width = expert.Result.Width;
                        }
                        break;
                    }
            }
        }
    }

    private static SizeExpr HeadDim(SizeExpr width, SizeExpr heads) => SizeExpr.Divide(width, heads);

    /// <summary>A value of width 1, written so (a Linear with Out = "1"): one scalar per token, broadcast by '*'.</summary>
    public static bool IsScalarPerRow(IrValue value) => value.Width is SizeExpr.Number { Value: 1 } && value.Producer.Kind != OpKind.Tokens;
}
