using System.Collections.Generic;
using Tessera.Generator.Helpers;
using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends;

/// <summary>
/// What a back end supplies to the one stage-program writer (Emit/StageProgramWriter): the type of its activation
/// buffers, how a stage gets ready, receives and sends the residual stream, and the calls of each kernel. The stage
/// body itself — input (embedded or received), the layer loop, send or head — and the block and expert methods
/// are written once, so the CPU and GPU rank programs differ only in what these members write.
/// </summary>
internal abstract class StageDevice
{
    /// <summary>The C# type of an activation buffer ("float[]", an ILGPU view).</summary>
    public abstract string Buffer { get; }

    /// <summary>Statements after <c>int rows = batch.Rows;</c> at the start of a forward.</summary>
    public abstract void WriteForwardSetup(CompiledModel compiled, IndentedTextWriter writer);

    /// <summary>Statements before the layers run (after the forward's setup; a stage with layers only).</summary>
    public virtual void WriteLayersSetup(IndentedTextWriter writer)
    {
    }

    /// <summary>The expression receiving <paramref name="floats"/> floats of the residual stream from the previous stage.</summary>
    public abstract string Receive(string floats);

    /// <summary>The statement sending <paramref name="floats"/> floats of <paramref name="buffer"/> to the next stage.</summary>
    public abstract string Send(string buffer, string floats);

    /// <summary>Arguments a block method takes after (layer, batch, input, output), each with a leading ", ".</summary>
    public virtual string BlockParameters => "";

    /// <summary>The arguments passed for <see cref="BlockParameters"/>.</summary>
    public virtual string BlockArguments => "";

    /// <summary>Statements before a module's kernels in its method (a block, or an expert over <c>rows</c> rows).</summary>
    public abstract void WriteModuleSetup(CompiledModule module, bool expert, IndentedTextWriter writer);

    /// <summary>Statements before the head's kernels (the CPU allocates the logits they fill).</summary>
    public virtual void WriteHeadSetup(CompiledModel compiled, IndentedTextWriter writer)
    {
    }

    /// <summary>The calls of a module's kernels, in order (a back end may merge some).</summary>
    public virtual void WriteKernels(IEnumerable<Kernel> kernels, CompiledModule module, string weights, IndentedTextWriter writer)
    {
        foreach (var kernel in kernels) WriteKernel(kernel, module, weights, writer);
    }

    /// <summary>The calls of one kernel.</summary>
    /// <param name="weights">the C# expression of the module's weights ("_weights" or "w")</param>
    public abstract void WriteKernel(Kernel kernel, CompiledModule module, string weights, IndentedTextWriter writer);
}
