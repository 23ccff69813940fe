using System.Collections.Generic;
using System.Linq;
using Tessera.Generator.Backends.Cpu;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes an engine class: sizes, weights, workspace, the constructor that loads a checkpoint, Forward, and one method
/// per block. The same members serve the shape-generic engine (nested <c>Model.Engine</c>) and a specialised
/// [Compile] unit; only <see cref="SizeBinding"/> differs.
/// </summary>
internal static class EngineWriter
{
    public const string GeneratorName = "Tessera.Generator";

    public static string GeneratedCodeAttribute =>
        $"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{typeof(EngineWriter).Assembly.GetName().Version}\")]";

    /// <summary>The members of an engine class, in order: a table of contents of what an engine is.</summary>
    private static readonly List<IndentedTextWriter.Callback<EngineContext>> Members =
    [
        WriteSizes,
        WriteWeights,
        WriteWorkspace,
        WriteConstructor,
        WriteProperties,
        WriteForward,
        WriteBlocks,
    ];

    /// <summary>What the member writers need.</summary>
    public sealed record EngineContext(CompiledModel Compiled, SizeBinding Sizes, string ClassName, string Description);

    public static void WriteMembers(EngineContext context, IndentedTextWriter writer) =>
        writer.WriteSeparated(Members, member => member(context, writer));

    private static ModelInfo Model(EngineContext c) => c.Compiled.Model;

    private static void WriteSizes(EngineContext context, IndentedTextWriter writer) =>
        context.Sizes.WriteDeclarations(Model(context), writer);

    private static void WriteWeights(EngineContext context, IndentedTextWriter writer)
    {
        var model = Model(context);
        WeightsWriter.WriteClass(model.Root, writer);
        foreach (var block in model.Blocks)
        {
            writer.WriteLine();
            WeightsWriter.WriteClass(block, writer);
        }
        writer.WriteLine();
        writer.WriteLine($"private readonly {WeightsWriter.ClassName(model.Root)} _weights = new();");
        if (model.Root.Layers is { } layers)
            writer.WriteLine($"private readonly {WeightsWriter.ClassName(model.Blocks[0])}[] _{Camel(layers.Name)};");
        writer.WriteLine("private readonly long _weightBytes;");
    }

    private static void WriteWorkspace(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var slots = compiled.Root.Buffers.Slots.Concat(compiled.Block?.Buffers.Slots ?? Enumerable.Empty<BufferSlot>()).ToList();
        writer.WriteLine("// Activation buffers, (T, width) each, reused across values whose lifetimes do not overlap.");
        writer.WriteLine("// One forward at a time per engine: _gate serialises callers.");
        writer.WriteLine("private readonly object _gate = new();");
        writer.WriteLine("private int _workspaceRows;");
        foreach (var slot in slots)
            writer.WriteLine($"private float[] {slot.Name} = []; // {string.Join(", ", slot.Holds.Distinct())}");
        writer.WriteLine("private float[] _headRows = [];");
        writer.WriteLine();
        using (writer.WriteBlock("private void EnsureWorkspace(int rows)"))
        {
            writer.WriteLine("if (rows <= _workspaceRows) return;");
            foreach (var slot in slots)
                writer.WriteLine($"{slot.Name} = new float[rows * {MaxOf(slot.Widths.Select(w => w.ToString()).ToList())}];");
            writer.WriteLine($"_headRows = new float[rows * ({compiled.Width})];");
            writer.WriteLine("_workspaceRows = rows;");
        }
    }

    private static string MaxOf(List<string> widths) =>
        widths.Count == 1 ? $"({widths[0]})" : $"global::System.Math.Max({widths[0]}, {MaxOf(widths.Skip(1).ToList())})";

    private static void WriteConstructor(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        writer.WriteLine($"/// <summary>Loads the weights of a {model.Type.Name} checkpoint, checking every tensor's name, shape and dtype.</summary>");
        using (writer.WriteBlock($"public {context.ClassName}(global::Tessera.Checkpoints.Checkpoint checkpoint)"))
        {
            writer.WriteLine("var config = checkpoint.Config;");
            context.Sizes.WriteBinding(model, writer);
            if (!context.Sizes.IsSpecialised && compiled.RuntimeChecks.Count > 0)
            {
                writer.WriteLine();
                writer.WriteLine("// Shape conditions that only the config can decide (a specialised unit checks them at build time).");
                foreach (var check in compiled.RuntimeChecks)
                {
                    writer.WriteLine($"if (!({check.ToCSharp()}))");
                    writer.IncreaseIndent();
                    writer.WriteLine($"throw new global::Tessera.Checkpoints.CheckpointException($\"{{config.Path}}: the sizes do not fit {model.Type.Name}: {Escape(check.Subject)} expects {Escape(check.Expected)} = {{{check.Right}}} but is given {Escape(check.Left.ToString())} = {{{check.Left}}}.\");");
                    writer.DecreaseIndent();
                }
            }
            writer.WriteLine();
            WeightsWriter.WriteLoad(model.Root, "_weights", "\"\"", writer);
            if (model.Root.Layers is { } layers)
            {
                string field = "_" + Camel(layers.Name);
                writer.WriteLine($"{field} = new {WeightsWriter.ClassName(model.Blocks[0])}[{layers.Count}];");
                using (writer.WriteBlock($"for (int i = 0; i < {layers.Count}; i++)"))
                {
                    writer.WriteLine($"var w = {field}[i] = new {WeightsWriter.ClassName(model.Blocks[0])}();");
                    WeightsWriter.WriteLoad(model.Blocks[0], "w", $"$\"{layers.Prefix}.{{i}}.\"", writer);
                }
            }
            writer.WriteLine("_weightBytes = checkpoint.BytesLoaded;");
        }
    }

    private static void WriteProperties(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = Model(context);
        string layers = model.Root.Layers?.Count ?? "0";
        string kvWidth = compiled.KvWidth?.ToString() ?? "1";
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine($"public global::Tessera.ModelShape Shape => new(\"{model.Type.Name}\", {compiled.Vocab}, {model.ContextField}, {layers}, {compiled.Width}, {kvWidth});");
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine("public long WeightBytes => _weightBytes;");
        writer.WriteLine();
        writer.WriteLine("/// <inheritdoc/>");
        writer.WriteLine($"public global::Tessera.KvCache CreateCache() => new({layers}, {model.ContextField}, {kvWidth});");
    }

    private static void WriteForward(EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var root = compiled.Root;
        writer.WriteLine("/// <inheritdoc/>");
        using (writer.WriteBlock("public float[] Forward(global::Tessera.TokenBatch batch)"))
        {
            writer.WriteLine($"global::Tessera.Cpu.CpuKernels.CheckTokenIds(batch.Tokens, {compiled.Vocab});");
            using (writer.WriteBlock("lock (_gate)"))
            {
                writer.WriteLine("int rows = batch.Rows;");
                writer.WriteLine("EnsureWorkspace(rows);");
                writer.WriteLine($"var logits = new float[batch.LogitRows.Length * ({compiled.Vocab})];");
                writer.WriteLine();
                foreach (var kernel in root.Kernels)
                    CpuKernelWriter.Write(kernel, root, "_weights", writer);
                writer.WriteLine();
                writer.WriteLine("batch.Commit();");
                writer.WriteLine("return logits;");
            }
        }
    }

    private static void WriteBlocks(EngineContext context, IndentedTextWriter writer)
    {
        var block = context.Compiled.Block;
        if (block is null) return;
        var layers = Model(context).Root.Layers!;
        writer.WriteLine($"/// <summary>One {block.Module.TypeName}: <paramref name=\"input\"/> (T, {block.Graph.Input.Width}) to <paramref name=\"output\"/> (T, {block.Graph.Result.Width}), at layer <paramref name=\"layer\"/>.</summary>");
        using (writer.WriteBlock($"private void {block.Module.TypeName}(int layer, global::Tessera.TokenBatch batch, float[] input, float[] output)"))
        {
            writer.WriteLine($"var w = _{Camel(layers.Name)}[layer];");
            writer.WriteLine("int rows = batch.Rows;");
            writer.WriteLine();
            foreach (var kernel in block.Kernels)
                CpuKernelWriter.Write(kernel, block, "w", writer);
        }
    }

    private static string Camel(string name) => char.ToLowerInvariant(name[0]) + name.Substring(1);

    private static string Escape(string text) => text.Replace("\"", "\\\"").Replace("{", "{{").Replace("}", "}}");
}
