using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Cuda;

/// <summary>One naming scheme for generated CUDA kernels: {module}_{value}_{op}_kernel (llm.c's op_direction_kernel, prefixed by where it sits).</summary>
internal static class CudaKernelNames
{
    public static string Of(Kernel kernel, CompiledModule module, string suffix) =>
        $"{Lower(module.Module.TypeName)}_{kernel.Output.Name}_{suffix}_kernel";

    private static string Lower(string name) => char.ToLowerInvariant(name[0]) + name.Substring(1);
}
