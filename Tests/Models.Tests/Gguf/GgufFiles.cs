using System.Runtime.InteropServices;

namespace Tessera.Models.Tests.Gguf;

/// <summary>
/// The GGUF files made from the shared fixtures by llama.cpp's tools, with llama.cpp's logits on each
/// (Gguf/make-files.sh), and the tokens those logits are for.
/// </summary>
internal static class GgufFiles
{
    public static string Directory => System.IO.Path.Combine(AppContext.BaseDirectory, "Gguf", "files");

    public static string Path(string name) => System.IO.Path.Combine(Directory, name + ".gguf");

    public static int[] Tokens => File.ReadAllText(System.IO.Path.Combine(Directory, "tokens.txt")).Trim().Split(',').Select(int.Parse).ToArray();

    /// <summary>llama.cpp's logits on the file, [tokens, vocab] row-major.</summary>
    public static float[] LlamaCppLogits(string name) =>
        MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(System.IO.Path.Combine(Directory, name + ".llama-cpp.f32"))).ToArray();

    /// <summary>max over rows of max|a - b| / max|b| (b the reference row).</summary>
    public static double WorstRowError(float[] actual, float[] expected, int vocab)
    {
        double worst = 0;
        for (int r = 0; r < expected.Length / vocab; r++)
        {
            double diff = 0, scale = 0;
            for (int v = 0; v < vocab; v++)
            {
                diff = Math.Max(diff, Math.Abs(actual[r * vocab + v] - expected[r * vocab + v]));
                scale = Math.Max(scale, Math.Abs(expected[r * vocab + v]));
            }
            worst = Math.Max(worst, diff / scale);
        }
        return worst;
    }

    /// <summary>The fraction of rows whose largest logit is at the same token.</summary>
    public static double ArgmaxAgreement(float[] actual, float[] expected, int vocab)
    {
        int rows = expected.Length / vocab, same = 0;
        for (int r = 0; r < rows; r++)
        {
            var a = actual.AsSpan(r * vocab, vocab);
            var e = expected.AsSpan(r * vocab, vocab);
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(a) == System.Numerics.Tensors.TensorPrimitives.IndexOfMax(e)) same++;
        }
        return (double)same / rows;
    }
}
