using System.Linq;
using Tessera.Generator.Backends.Cuda;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;

namespace Tessera.Generator.Emit;

/// <summary>
/// Writes the engine's CUDA C as a raw string literal (so one snapshot shows the host code and the kernel text, as
/// ComputeSharp does), the list of kernel names, and <c>CudaProgram(config, tensorDegree)</c>: the source with this
/// rank's sizes defined, ready for NVRTC.
/// </summary>
internal static class CudaSourceWriter
{
    public static void Write(EngineWriter.EngineContext context, IndentedTextWriter writer)
    {
        var compiled = context.Compiled;
        var model = compiled.Model;
        string source = CudaKernelWriter.Write(compiled, context.Sizes.Constants, context.Plan?.Tensor);

        writer.WriteLine("/// <summary>");
        writer.WriteLine("/// The CUDA C of every kernel but the matrix products (those run on cuBLAS), after");
        writer.WriteLine("/// Tessera.Cuda.CudaPrelude. Sizes are macros: " + (context.Sizes.IsSpecialised
            ? "defined here, from the config this unit was compiled for."
            : "<see cref=\"CudaProgram\"/> defines them from a config before NVRTC"));
        if (!context.Sizes.IsSpecialised) writer.WriteLine("/// compiles the text.");
        writer.WriteLine("/// </summary>");
        writer.WriteLine("public const string CudaKernels = \"\"\"");
        writer.WriteLines(source.TrimEnd('\n'));
        writer.WriteLine("\"\"\";");
        writer.WriteLine();
        writer.WriteLine("/// <summary>The kernels <see cref=\"CudaKernels\"/> defines, in launch order.</summary>");
        writer.WriteLine($"public static readonly string[] CudaKernelNames = [{string.Join(", ", CudaKernelWriter.KernelNames(compiled).Select(n => "\"" + n + "\""))}];");
        writer.WriteLine();
        writer.WriteLine("/// <summary>The CUDA program of one rank: its sizes (and tensor degree) defined, then the kernels.</summary>");
        using (writer.WriteBlock("public static string CudaProgram(global::Tessera.Checkpoints.ModelConfig config, int tensorDegree)"))
        {
            if (context.Sizes.IsSpecialised)
            {
                writer.WriteLine("_ = config;");
                writer.WriteLine("if (tensorDegree != TensorDegree) throw new global::System.ArgumentOutOfRangeException(nameof(tensorDegree), $\"this unit was compiled for tensor degree {TensorDegree}\");");
                writer.WriteLine("return global::Tessera.Cuda.CudaPrelude.Source + CudaKernels;");
                return;
            }
            context.Sizes.WriteBinding(model, writer, declareLocals: true);
            WriteProgramWithDefines(model, "tensorDegree", writer);
        }
    }

    /// <summary>
    /// Statements returning the CUDA program with every size in scope (config fields by name, and the tensor degree
    /// <paramref name="tensorDegree"/>) defined as a macro: shared by CudaProgram and a loaded engine's own program.
    /// </summary>
    public static void WriteProgramWithDefines(ModelInfo model, string tensorDegree, IndentedTextWriter writer)
    {
        writer.WriteLine("var defines = new global::System.Text.StringBuilder();");
        foreach (var field in model.Config.Where(f => f.Kind != ConfigKind.Bool))
        {
            string value = field.Kind == ConfigKind.Int
                ? $"{field.Name}.ToString(global::System.Globalization.CultureInfo.InvariantCulture)"
                : $"global::Tessera.Cuda.CudaLiterals.Float({field.Name})";
            writer.WriteLine($"defines.Append(\"#define {field.Name} \").Append({value}).Append('\\n');");
        }
        writer.WriteLine($"defines.Append(\"#define TensorDegree \").Append({tensorDegree}.ToString(global::System.Globalization.CultureInfo.InvariantCulture)).Append('\\n');");
        writer.WriteLine("return defines.Append(global::Tessera.Cuda.CudaPrelude.Source).Append(CudaKernels).ToString();");
    }
}
