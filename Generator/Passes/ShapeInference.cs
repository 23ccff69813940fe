using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.IR;

namespace Tessera.Generator.Passes;

/// <summary>
/// Gives every IR value its width (an expression over config fields) and collects the conditions the sizes must meet
/// for the model to make sense. The root graph's Layers node passes its input width to the block graph.
/// </summary>
internal static class ShapeInference
{
    public static List<ShapeConstraint> Run(IrGraph root, IrGraph? block)
    {
        var constraints = new List<ShapeConstraint>();
        Infer(root, block, constraints);
        return constraints;
    }

    private static void Infer(IrGraph graph, IrGraph? block, List<ShapeConstraint> constraints)
    {
        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs;
            string subject = node.Module is { } m ? $"{node.Kind} '{m.Name}'" : $"{node.Kind}";
            void Equal(SizeExpr given, SizeExpr expected) => constraints.Add(new ShapeConstraint(given, expected, false, subject, node.Location));
            void Divisible(SizeExpr given, SizeExpr by) => constraints.Add(new ShapeConstraint(given, by, true, subject, node.Location));

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
                    Equal(inputs[0].Width, SizeExpr.Parse(node.Module!.In!));
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
                    node.Output.Width = inputs[0].Width;
                    break;
                case OpKind.Add:
                case OpKind.Mul:
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
                        Infer(block, null, constraints);
                        constraints.Add(new ShapeConstraint(block.Result.Width, inputs[0].Width, false,
                            $"the residual stream through '{node.LayersField!.Name}' (a block must return the width it is given)", node.Location));
                    }
                    break;
            }
        }
    }

    private static SizeExpr HeadDim(SizeExpr width, SizeExpr heads) => SizeExpr.Divide(width, heads);
}
