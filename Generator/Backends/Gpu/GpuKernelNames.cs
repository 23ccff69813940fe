using Tessera.Generator.Passes;

namespace Tessera.Generator.Backends.Gpu;

/// <summary>One naming scheme for generated GPU kernels: {Module}{Value}{Op}, e.g. BlockQRope (where it sits, what it makes, how).</summary>
internal static class GpuKernelNames
{
    public static string Of(Kernel kernel, CompiledModule module, string op) =>
        Upper(module.Module.TypeName) + Upper(kernel.Output.Name.TrimStart('_')) + op;

    private static string Upper(string name) => name.Length == 0 ? name : char.ToUpperInvariant(name[0]) + name.Substring(1);
}
