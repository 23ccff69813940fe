using System.Collections.Generic;
using Tessera.Generator.Backends;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Emit;

/// <summary>
/// The stage program, written once for every back end: <c>RunStage</c> (the stage's input, embedded or received; its
/// layers; the residual stream sent on, or the head's logits), one method per stage of a folded pipeline, the block
/// method and the expert method. What differs between the CPU and the GPU — buffers, setup, transfers, the calls of
/// each kernel — comes from the <see cref="StageDevice"/>.
/// </summary>
internal static class StageProgramWriter
{
    public static void WriteRunStage(EngineWriter.EngineContext context, StageDevice device, IndentedTextWriter writer)
    {
        writer.WriteLine("/// <inheritdoc/>");
        if (context.Plan is { Pipeline: > 1 } plan)
        {
            // A folded pipeline: one method per stage, each with its layer range as constants.
            using (writer.WriteBlock("public float[]? RunStage(global::Tessera.TokenBatch batch) => _rank.Stage switch", closing: ";"))
            {
                for (int s = 0; s < plan.Pipeline; s++) writer.WriteLine($"{s} => Stage{s}(batch),");
                writer.WriteLine("_ => throw new global::System.ArgumentOutOfRangeException(nameof(batch), \"no such stage\"),");
            }
            int first = 0;
            for (int s = 0; s < plan.Pipeline; s++)
            {
                writer.WriteLine();
                int end = first + plan.LayerSplit[s];
                writer.WriteLine($"/// <summary>Stage {s} of {plan.Pipeline}: {(s == 0 ? "embeds the tokens" : "receives the residual stream")}, runs layers {first} to {end - 1}, {(s == plan.Pipeline - 1 ? "computes the logits" : "sends to the next stage")}.</summary>");
                using (writer.WriteBlock($"private float[]? Stage{s}(global::Tessera.TokenBatch batch)"))
                    WriteStageBody(context, device, writer, s == 0, s == plan.Pipeline - 1, first.ToString(), end.ToString());
                first = end;
            }
        }
        else
        {
            using (writer.WriteBlock("public float[]? RunStage(global::Tessera.TokenBatch batch)"))
                WriteStageBody(context, device, writer, context.Plan is null ? null : true, context.Plan is null ? null : true, "FirstLayer", "EndLayer");
        }
    }

    /// <summary>The block method, then the expert method of a mixture-of-experts model.</summary>
    public static void WriteModuleMethods(EngineWriter.EngineContext context, StageDevice device, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        if (compiled.Block is not { } block) return;
        writer.WriteLine($"/// <summary>One {block.Module.TypeName}: <paramref name=\"input\"/> (T, {block.Graph.Input.Width}) to <paramref name=\"output\"/> (T, {block.Graph.Result.Width}), at layer <paramref name=\"layer\"/>.</summary>");
        using (writer.WriteBlock($"private void {block.Module.TypeName}(int layer, global::Tessera.TokenBatch batch, {device.Buffer} input, {device.Buffer} output{device.BlockParameters})"))
        {
            writer.WriteLine("var w = _layers[layer - FirstLayer];");
            writer.WriteLine("int rows = batch.Rows;");
            device.WriteModuleSetup(block, expert: false, writer);
            WriteKernels(device, block.Kernels, block, "w", writer);
        }
        if (compiled.Expert is not { } expert) return;
        writer.WriteLine();
        writer.WriteLine($"/// <summary>One {expert.Module.TypeName} (a held expert of layer <paramref name=\"layer\"/>): <paramref name=\"input\"/> (rows, {expert.Graph.Input.Width}) to <paramref name=\"output\"/> (rows, {expert.Graph.Result.Width}), rows = the tokens routed to it.</summary>");
        using (writer.WriteBlock($"private void {expert.Module.TypeName}(int layer, int expert, int rows, {device.Buffer} input, {device.Buffer} output)"))
        {
            writer.WriteLine($"var w = _layers[layer - FirstLayer].{compiled.ExpertsField!.Name}[expert - FirstExpert];");
            device.WriteModuleSetup(expert, expert: true, writer);
            WriteKernels(device, expert.Kernels, expert, "w", writer);
        }
    }

    /// <summary>One stage's forward under the gate: its input (embedded or received), its layers, its output (sent or the logits).</summary>
    /// <param name="first">whether this is the first stage: true, false, or null to decide at run time</param>
    /// <param name="last">the same for the last stage</param>
    private static void WriteStageBody(EngineWriter.EngineContext context, StageDevice device, IndentedTextWriter writer, bool? first, bool? last, string firstLayer, string endLayer)
    {
        var root = context.Compiled.Root;
        using (writer.WriteBlock("lock (_gate)"))
        {
            writer.WriteLine("int rows = batch.Rows;");
            device.WriteForwardSetup(context.Compiled, writer);
            if (root.LayersKernel is not { } layers)
            {
                WriteTokenCheck(context.Compiled, writer);
                WriteHead(context, device, root.Kernels, writer);
                return;
            }
            device.WriteLayersSetup(writer);
            WriteStageInput(context, device, layers, first, writer);
            WriteLayersLoop(context, device, layers, firstLayer, endLayer, writer);
            if (last == false)
            {
                WriteSend(context, device, layers, writer);
                return;
            }
            if (last is null)
            {
                using (writer.WriteBlock("if (!_rank.IsLastStage)")) WriteSend(context, device, layers, writer);
            }
            WriteHead(context, device, root.Epilogue, writer);
        }
    }

    /// <summary>stageInput: the embedded tokens on the first stage, the residual stream received from the previous one elsewhere.</summary>
    private static void WriteStageInput(EngineWriter.EngineContext context, StageDevice device, Kernel layers, bool? first, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var root = compiled.Root;
        writer.WriteLine($"{device.Buffer} stageInput;");
        void Embed()
        {
            WriteTokenCheck(compiled, writer);
            // Through WriteKernels, as a block's kernels: a back end may run the model's own products of one input as one.
            WriteKernels(device, root.Prologue, root, "_weights", writer);
            writer.WriteLine($"stageInput = {root.Buffers[layers.Anchor.Inputs[0]]};");
        }
        void Receive()
        {
            writer.WriteLine("// The residual stream from the previous stage.");
            writer.WriteLine($"stageInput = {device.Receive($"rows * ({compiled.Width})")};");
        }
        if (first == true) Embed();
        else if (first == false) Receive();
        else
        {
            using (writer.WriteBlock("if (_rank.IsFirstStage)")) Embed();
            using (writer.WriteBlock("else")) Receive();
        }
    }

    /// <summary>This stage's layers, ping-ponging between the stage input's buffer and a spare one.</summary>
    private static void WriteLayersLoop(EngineWriter.EngineContext context, StageDevice device, Kernel layers, string firstLayer, string endLayer, IndentedTextWriter writer)
    {
        var root = context.Compiled.Root;
        string name = root.Buffers[layers.Output];
        writer.WriteLine($"// {name} (T, {layers.Output.Width}) = {layers.Describe()}");
        writer.WriteLine($"{device.Buffer} {name} = stageInput, {name}Spare = {root.Buffers.LayerSpare[layers.Output]};");
        using (writer.WriteBlock($"for (int layer = {firstLayer}; layer < {endLayer}; layer++)"))
        {
            writer.WriteLine($"{layers.Anchor.LayersField!.BlockType}(layer, batch, {name}, {name}Spare{device.BlockArguments});");
            writer.WriteLine($"({name}, {name}Spare) = ({name}Spare, {name});");
        }
    }

    /// <summary>A stage that is not the last sends the residual stream on and returns no logits.</summary>
    private static void WriteSend(EngineWriter.EngineContext context, StageDevice device, Kernel layers, IndentedTextWriter writer)
    {
        writer.WriteLine("// The residual stream goes on to the next stage.");
        writer.WriteLine(device.Send(context.Compiled.Root.Buffers[layers.Output], $"rows * ({context.Compiled.Width})"));
        writer.WriteLine("batch.Commit();");
        writer.WriteLine("return null;");
    }

    /// <summary>
    /// A module's kernels in order; a run of kernels that runs only under a condition (a Select's side: the dense MLP
    /// of the layers that have one) in an <c>if</c> of it.
    /// </summary>
    private static void WriteKernels(StageDevice device, IEnumerable<Kernel> kernels, CompiledModule module, string weights, IndentedTextWriter writer) =>
        writer.WriteRunsIf(kernels, k => k.Predicate.ToCSharp(), run => device.WriteKernels(run, module, weights, writer));

    private static void WriteTokenCheck(CompiledModel compiled, IndentedTextWriter writer) =>
        writer.WriteLine($"global::Tessera.Cpu.CpuKernels.CheckTokenIds(batch.Tokens, {compiled.Vocab});");

    private static void WriteHead(EngineWriter.EngineContext context, StageDevice device, IEnumerable<Kernel> kernels, IndentedTextWriter writer)
    {
        device.WriteHeadSetup(context.Compiled, writer);
        WriteKernels(device, kernels, context.Compiled.Root, "_weights", writer);
        writer.WriteLine("batch.Commit();");
        writer.WriteLine("return logits;");
    }
}
