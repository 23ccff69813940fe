using System.Linq;
using Tessera.Generator.FrontEnd;
using Tessera.Generator.Helpers;
using Tessera.Generator.IR;

namespace Tessera.Generator.Emit;

/// <summary>Writes a module's weight class (one float[] per tensor, with its shape) and the code that loads it from a checkpoint.</summary>
internal static class WeightsWriter
{
    public static string ClassName(ModuleInfo module) => module.TypeName + "Weights";

    public static void WriteClass(ModuleInfo module, IndentedTextWriter writer)
    {
        writer.WriteLine($"/// <summary>The tensors of one {module.TypeName}, F32, matrices as [out, in].</summary>");
        using (writer.WriteBlock($"private sealed class {ClassName(module)}"))
        {
            foreach (var w in module.Weights)
            {
                writer.WriteLine($"/// <remarks>{Shape(w)}, from \"{w.TensorPrefix}.weight\"{(w.Transposed ? " (stored [in, out], transposed on load)" : "")}.</remarks>");
                writer.WriteLine($"public float[] {w.Name} = null!;");
                if (w.Bias || w.Kind == ModuleKind.LayerNorm)
                {
                    writer.WriteLine($"/// <remarks>({(w.Kind == ModuleKind.Linear ? w.Out : w.In)}), from \"{w.TensorPrefix}.bias\".</remarks>");
                    writer.WriteLine($"public float[] {w.Name}Bias = null!;");
                }
            }
        }
    }

    /// <summary>Statements filling <paramref name="target"/> from <c>checkpoint</c>; <paramref name="prefix"/> is a C# string expression.</summary>
    public static void WriteLoad(ModuleInfo module, string target, string prefix, IndentedTextWriter writer)
    {
        foreach (var w in module.Weights)
        {
            string name = $"{prefix} + \"{w.TensorPrefix}";
            string load = w.Kind switch
            {
                ModuleKind.RmsNorm or ModuleKind.LayerNorm =>
                    $"checkpoint.LoadVector({name}.weight\", {w.In}, $\"{w.Name}: ({w.In} = {{{w.In}}})\")",
                _ =>
                    $"checkpoint.LoadMatrix({name}.weight\", {w.Out}, {w.In}, global::Tessera.WeightLayout.{(w.Transposed ? "InOut" : "OutIn")}, $\"{w.Name}: Out = {w.Out} = {{{w.Out}}}, In = {w.In} = {{{w.In}}}\")",
            };
            if (w.TiedTo is not null)
            {
                // Tied weights share one array (Hugging Face's tie_word_embeddings): no second copy in memory.
                string condition = w.TiedWhen ?? "true";
                load = w.TiedWhen is null ? $"{target}.{w.TiedTo}" : $"{condition} ? {target}.{w.TiedTo} : {load}";
            }
            writer.WriteLine($"{target}.{w.Name} = {load};");
            if (w.Bias || w.Kind == ModuleKind.LayerNorm)
            {
                string length = w.Kind == ModuleKind.Linear ? w.Out! : w.In!;
                writer.WriteLine($"{target}.{w.Name}Bias = checkpoint.LoadVector({name}.bias\", {length}, $\"{w.Name} bias: ({length} = {{{length}}})\");");
            }
        }
    }

    private static string Shape(WeightFieldInfo w) => w.Kind switch
    {
        ModuleKind.RmsNorm or ModuleKind.LayerNorm => $"({w.In})",
        _ => $"({w.Out}, {w.In})",
    };
}
