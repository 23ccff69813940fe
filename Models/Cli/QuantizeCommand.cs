using System.CommandLine;
using Tessera.Checkpoints;

namespace Tessera.Models.Cli;

/// <summary><c>tessera quantize</c>: a GGUF file's weights written quantized, as llama.cpp's llama-quantize writes them.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint", "-c") { Description = "The GGUF file to quantize (F32, F16, BF16 or already quantized weights)", Required = true };
        var type = new Option<GgufFileType>("--type", "-t") { Description = "Q8_0, Q4_0 or Q4_K_M (llama.cpp's per-tensor choice of types)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The GGUF file to write", Required = true };
        var command = new Command("quantize", "Write a GGUF file's weights quantized (Q8_0, Q4_0, Q4_K_M), loadable by llama.cpp and Tessera.") { checkpoint, type, output };
        command.SetAction(r => Program.Run(() => Execute(r.GetValue(checkpoint)!, r.GetValue(type), r.GetValue(output)!)));
        return command;
    }

    private static int Execute(string input, GgufFileType type, string output)
    {
        if (Directory.Exists(input))
            throw new ArgumentException($"{input} is a folder: quantize takes a GGUF file (convert a Hugging Face folder with llama.cpp's convert_hf_to_gguf.py first).");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        GgufQuantizer.Quantize(input, output, type);
        Console.WriteLine($"wrote {output} ({type}, {new FileInfo(output).Length / 1e6:F1} MB from {FileText.LengthOf(input) / 1e6:F1} MB) in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
