using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.Emit;

/// <summary>Whole generated files: the header, the namespace, the partial class and the engine inside it.</summary>
internal static class SourceFiles
{
    /// <summary>The shape-generic engine, nested in the [Model] class as <c>Engine</c>, plus <c>Load(directory)</c>.</summary>
    public static string GenericEngine(EngineWriter.EngineContext context)
    {
        var type = context.Compiled.Model.Type;
        var writer = Start(type.Namespace);
        writer.WriteLine($"/// <summary>{type.Name}, compiled by Tessera: see the nested <see cref=\"Engine\"/>.</summary>");
        using (writer.WriteBlock($"partial class {type.Name}"))
        {
            writer.WriteLine("/// <summary>Opens a checkpoint folder (config.json + safetensors) and loads the shape-generic engine.</summary>");
            writer.WriteLine(EngineWriter.GeneratedCodeAttribute);
            using (writer.WriteBlock("public static Engine Load(string checkpointDirectory)"))
            {
                writer.WriteLine("using var checkpoint = global::Tessera.Checkpoints.Checkpoint.Open(checkpointDirectory);");
                writer.WriteLine("return new Engine(checkpoint);");
            }
            writer.WriteLine();
            writer.WriteLine("/// <summary>");
            writer.WriteLine($"/// {context.Description}");
            writer.WriteLine("/// Dimension letters: T = tokens in the batch (rows), V = vocabulary, widths are named by config fields.");
            writer.WriteLine("/// </summary>");
            writer.WriteLine(EngineWriter.GeneratedCodeAttribute);
            using (writer.WriteBlock($"public sealed class Engine : {EngineWriter.Interfaces(context)}"))
                EngineWriter.WriteMembers(context, writer);
        }
        return End(writer, type.Namespace);
    }

    /// <summary>A [Compile] unit: the unit class itself becomes the engine, sizes folded as constants.</summary>
    public static string SpecialisedEngine(EngineWriter.EngineContext context, TypeLocationInfo unit)
    {
        var writer = Start(unit.Namespace);
        writer.WriteLine("/// <summary>");
        writer.WriteLine($"/// {context.Description}");
        writer.WriteLine("/// Dimension letters: T = tokens in the batch (rows), V = vocabulary, widths are named by config fields.");
        writer.WriteLine("/// </summary>");
        writer.WriteLine(EngineWriter.GeneratedCodeAttribute);
        using (writer.WriteBlock($"partial class {unit.Name} : {EngineWriter.Interfaces(context)}"))
        {
            var plan = context.Plan!;
            if (plan.DeviceCount == 1)
            {
                writer.WriteLine("/// <summary>Opens a checkpoint folder whose config matches the one this unit was compiled for.</summary>");
                using (writer.WriteBlock($"public static {unit.Name} Load(string checkpointDirectory)"))
                {
                    writer.WriteLine("using var checkpoint = global::Tessera.Checkpoints.Checkpoint.Open(checkpointDirectory);");
                    writer.WriteLine($"return new {unit.Name}(checkpoint);");
                }
            }
            else
            {
                if (plan.Expert == 1 && plan.Sequence == 1)
                {
                    writer.WriteLine($"/// <summary>The folded plan: {plan.DeviceCount} CPU devices, rank = data * {plan.Pipeline * plan.Tensor} + stage * {plan.Tensor} + tensor rank.</summary>");
                    writer.WriteLine($"public static global::Tessera.Parallelism.ParallelPlan Plan {{ get; }} = new(Data: {plan.Data}, Pipeline: {plan.Pipeline}, Tensor: {plan.Tensor}, MicroBatches: {plan.MicroBatches}, LayersPerStage: [{string.Join(", ", plan.LayerSplit)}]);");
                }
                else
                {
                    int perStage = plan.Sequence * plan.Expert * plan.Tensor;
                    writer.WriteLine($"/// <summary>The folded plan: {plan.DeviceCount} CPU devices, rank = data * {plan.Pipeline * perStage} + stage * {perStage} + sequence rank * {plan.Expert * plan.Tensor} + expert rank * {plan.Tensor} + tensor rank.</summary>");
                    writer.WriteLine($"public static global::Tessera.Parallelism.ParallelPlan Plan {{ get; }} = new(Data: {plan.Data}, Pipeline: {plan.Pipeline}, Tensor: {plan.Tensor}, MicroBatches: {plan.MicroBatches}, LayersPerStage: [{string.Join(", ", plan.LayerSplit)}], Expert: {plan.Expert}, Sequence: {plan.Sequence});");
                }
                writer.WriteLine();
                WriteSchedule(plan, writer);
                writer.WriteLine();
                writer.WriteLine("/// <summary>");
                writer.WriteLine("/// Opens a checkpoint folder and starts the plan: one worker per device, each loading only its own shard; the");
                writer.WriteLine("/// <see cref=\"Schedule\"/> above drives every forward.");
                writer.WriteLine("/// </summary>");
                using (writer.WriteBlock($"public static global::Tessera.Parallelism.ParallelEngine Load(string checkpointDirectory)"))
                    writer.WriteLine($"return global::Tessera.Parallelism.ParallelEngine.Create(checkpointDirectory, Plan, static (checkpoint, rank, options) => new {unit.Name}(checkpoint, rank, options), Facts, Schedule);");
            }
            writer.WriteLine();
            EngineWriter.WriteMembers(context, writer);
        }
        return End(writer, unit.Namespace);
    }

    /// <summary>
    /// The GPipe clock-cycle schedule as data: micro-batch i runs on stage j at clock i + j, so with p stages and m
    /// micro-batches a stage idles (p - 1) of its (m + p - 1) clocks — the bubble.
    /// </summary>
    private static void WriteSchedule(FoldedPlan plan, IndentedTextWriter writer)
    {
        int p = plan.Pipeline, m = plan.MicroBatches, clocks = m + p - 1;
        writer.WriteLine($"/// <summary>");
        writer.WriteLine($"/// The GPipe schedule, [stage, clock] = micro-batch (-1: idle). {p} stage(s) x {clocks} clocks; bubble {p - 1}/{clocks} of each stage's slots.");
        writer.WriteLine($"/// </summary>");
        writer.WriteLine("public static readonly int[,] Schedule =");
        using (writer.WriteBlock(closing: ";"))
        {
            for (int stage = 0; stage < p; stage++)
            {
                var row = Enumerable.Range(0, clocks).Select(c => c - stage >= 0 && c - stage < m ? (c - stage).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(2) : "-1");
                writer.WriteLine($"{{ {string.Join(", ", row)} }}, // stage {stage}");
            }
        }
    }

    private static IndentedTextWriter Start(string ns)
    {
        var writer = new IndentedTextWriter();
        writer.WriteLine("// <auto-generated/>");
        writer.WriteLine("// Generated by the Tessera transformer compiler. Do not edit: change the [Model] and rebuild.");
        writer.WriteLine("#nullable enable");
        writer.WriteLine("#pragma warning disable CS1591 // generated members are documented where it helps a reader");
        writer.WriteLine("#pragma warning disable CS0162 // a specialised unit folds its plan: branches on constants are unreachable by design");
        writer.WriteLine();
        if (ns.Length > 0)
        {
            writer.WriteLine($"namespace {ns};");
            writer.WriteLine();
        }
        return writer;
    }

    private static string End(IndentedTextWriter writer, string ns) => writer.ToString();
}
