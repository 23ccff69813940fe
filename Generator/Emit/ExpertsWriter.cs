using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends.Cpu;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// The members a mixture-of-experts model adds to its engine: where this rank sits on the expert axis and which experts
/// it holds, the router (one per Route of the block) with the expert load it counts, the expert's workspace, the
/// loading of this rank's experts, and one method that runs an expert over the rows routed to it. A dense model gets
/// none of these, so its engine reads as before.
/// </summary>
internal static class ExpertsWriter
{
    private const string Experts = "global::Tessera.Experts";

    public static bool HasExperts(EngineWriter.EngineContext context) => context.Compiled.Expert is not null;

    /// <summary>The expert axis of the plan: degree (folded in a unit), this rank's index and its experts.</summary>
    public static void WritePlan(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        if (context.Plan is { } plan)
            writer.WriteLine($"private const int ExpertDegree = {plan.Expert}; // folded: [Compile(Expert = {plan.Expert})]");
        else
            writer.WriteLine("private readonly int ExpertDegree;");
        writer.WriteLine("private readonly int ExpertRank;");
        writer.WriteLine($"// This rank's experts, [FirstExpert, EndExpert) of every layer's {context.Compiled.ExpertsField!.Count}: ExpertCount / ExpertDegree contiguous ones.");
        writer.WriteLine("private readonly int FirstExpert;");
        writer.WriteLine("private readonly int EndExpert;");
    }

    /// <summary>The routers, the expert load and the expert's activation buffers (sized by the rows an expert gets).</summary>
    public static void WriteWorkspace(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var expert = compiled.Expert!;
        writer.WriteLine();
        writer.WriteLine("// Where the routers sent the tokens, per layer and expert (counted on this rank).");
        writer.WriteLine($"private readonly {Experts}.ExpertLoad _expertLoad;");
        foreach (var routing in compiled.Block!.Buffers.Routers)
        {
            writer.WriteLine($"// The router of '{routing.Name}': each token's top-k experts, the tokens of each held expert, their weighted results.");
            writer.WriteLine($"private readonly {Experts}.ExpertRouter {compiled.Block.Buffers[routing]};");
        }
        writer.WriteLine($"// The {expert.Module.TypeName}'s buffers, (rows routed to one expert, width) each; an expert may get more rows than the batch has.");
        writer.WriteLine("private int _expertWorkspaceRows;");
        foreach (var slot in expert.Buffers.Slots)
            writer.WriteLine($"private float[] {slot.Name} = []; // {string.Join(", ", slot.Holds.Distinct())}");
        writer.WriteLine();
        using (writer.WriteBlock("private void EnsureExpertWorkspace(int rows)"))
        {
            writer.WriteLine("if (rows <= _expertWorkspaceRows) return;");
            foreach (var slot in expert.Buffers.Slots)
                writer.WriteLine($"{slot.Name} = new float[rows * {EngineWriter.MaxOf(EngineWriter.LocalWidths(slot, expert))}];");
            writer.WriteLine("_expertWorkspaceRows = rows;");
        }
    }

    /// <summary>Constructor statements: the expert axis from the rank context, the experts this rank holds, the routers.</summary>
    public static void WriteRankBinding(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        string count = compiled.ExpertsField!.Count;
        string name = compiled.Model.Type.Name;
        if (context.Plan is null) writer.WriteLine("ExpertDegree = rank.ExpertDegree;");
        else
        {
            writer.WriteLine("if (rank.ExpertDegree != ExpertDegree)");
            writer.IncreaseIndent();
            writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException($\"{context.ClassName} was compiled for expert degree {{ExpertDegree}}; this rank is in a plan with {{rank.ExpertDegree}}.\");");
            writer.DecreaseIndent();
        }
        writer.WriteLine("ExpertRank = rank.ExpertRank;");
        writer.WriteLine($"if ({count} % ExpertDegree != 0)");
        writer.IncreaseIndent();
        writer.WriteLine($"throw new global::Tessera.Parallelism.PlanException($\"ep = {{ExpertDegree}} does not divide the {{{count}}} experts of {name}: every expert rank holds as many whole experts.\");");
        writer.DecreaseIndent();
        writer.WriteLine($"FirstExpert = ExpertRank * ({count} / ExpertDegree);");
        writer.WriteLine($"EndExpert = FirstExpert + {count} / ExpertDegree;");
        // The expert count sizes the load table and the routers before any expert's tensor is read: it must be one the
        // checkpoint holds (checked on layer 0, as the layer count was checked on the layers).
        var model = compiled.Model;
        if (EngineWriter.NumberedTensorSuffix(compiled.Expert!) is { } suffix)
        {
            string prefix = $"{model.Root.Layers!.Prefix}.{{layer}}.{compiled.ExpertsField!.Prefix}.";
            string check = $"checkpoint.RequireNumbered(\"{EngineWriter.ConfigKeyOf(model, count)}\", {count}, $\"{prefix}\", \"{suffix}\");";
            if (MixtureCondition(context) is { } condition)
            {
                // Checked on the first layer that has experts (some layers are dense).
                using (writer.WriteBlock($"for (int layer = 0; layer < {model.Root.Layers.Count}; layer++)"))
                {
                    writer.WriteLine($"if (!({condition})) continue;");
                    writer.WriteLine(check);
                    writer.WriteLine("break;");
                }
            }
            else
            {
                writer.WriteLine(check.Replace("{layer}", "0").Replace("$\"", "\""));
            }
        }
        writer.WriteLine($"_expertLoad = new {Experts}.ExpertLoad({model.Root.Layers!.Count}, {count});");
        foreach (var routing in compiled.Block!.Buffers.Routers)
            writer.WriteLine($"{compiled.Block.Buffers[routing]} = new {Experts}.ExpertRouter({count}, FirstExpert, EndExpert, _expertLoad);");
    }

    /// <summary>Statements in the layer loop (layer i, block weights w): this rank's experts of layer i only.</summary>
    public static void WriteLoad(EngineWriter.EngineContext context, string layerPrefix, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var expert = compiled.Expert!;
        var field = compiled.ExpertsField!;
        string type = WeightsWriter.ClassName(expert.Module);
        // Only the layers that route to experts have them.
        writer.WriteIf(MixtureCondition(context), () =>
        {
            writer.WriteLine($"w.{field.Name} = new {type}[EndExpert - FirstExpert];");
            using (writer.WriteBlock("for (int e = FirstExpert; e < EndExpert; e++)"))
            {
                writer.WriteLine($"var x = w.{field.Name}[e - FirstExpert] = new {type}();");
                WeightsWriter.WriteLoad(expert.Module, expert, expert.Module.Weights, "x", $"{layerPrefix}{field.Prefix}.{{e}}.", context.Sizes.Constants, writer);
            }
        });
    }

    /// <summary>When a layer has experts (its Mixture runs): null when every layer does.</summary>
    private static string? MixtureCondition(EngineWriter.EngineContext context) => context.Compiled.Mixture!.Predicate.ToCSharp();

    /// <summary>The arrays of one layer's held experts, for the weight accounting: a C# expression of object?s.</summary>
    public static string Arrays(EngineWriter.EngineContext context, string block)
    {
        var expert = context.Compiled.Expert!;
        string experts = $"{block}.{context.Compiled.ExpertsField!.Name}";
        if (MixtureCondition(context) is not null) experts += " ?? []"; // a dense layer has none
        return $"global::System.Linq.Enumerable.SelectMany({experts}, x => new object?[] {{ {string.Join(", ", WeightsWriter.Arrays(expert.Module, "x"))} }})";
    }

    public static void WriteProperties(IndentedTextWriter writer)
    {
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine($"public {Experts}.ExpertLoad ExpertLoad => _expertLoad;");
    }

    /// <summary>The interfaces an engine of this model implements beyond the rank program's.</summary>
    public static IEnumerable<string> Interfaces(EngineWriter.EngineContext context) =>
        HasExperts(context) ? [$"{Experts}.IExpertRouted"] : [];
}
