using Tessera.Checkpoints;

namespace Tessera.Models.Tests;

/// <summary>
/// The bundled fixtures and their reference outputs (computed by llama2.c, llm.c and fp64 implementations of Hugging
/// Face's semantics, each cross-checked with llama.cpp; not by us).
/// </summary>
public static class Fixtures
{
    public const string TinyLlama = "tiny-llama";
    public const string TinyGpt2 = "tiny-gpt2";
    public const string TinyMixtral = "tiny-mixtral";
    public const string TinyLlama31 = "tiny-llama31";
    public const string TinyQwen2 = "tiny-qwen2";
    public const string TinyQwen3 = "tiny-qwen3";
    public const string TinyQwen3Moe = "tiny-qwen3-moe";
    public const string TinyQwen2Moe = "tiny-qwen2-moe";
    public const string TinyMistral = "tiny-mistral";
    public const string TinyGemma2 = "tiny-gemma2";
    public const string TinyGemma3 = "tiny-gemma3";
    public const string TinyPhi3 = "tiny-phi3";

    /// <summary>The fixtures of the families beyond the three seeds: one per family (and Llama 3.1's RoPE scaling).</summary>
    public static readonly string[] Families = [TinyLlama31, TinyQwen2, TinyQwen3, TinyQwen3Moe, TinyQwen2Moe, TinyMistral, TinyGemma2, TinyGemma3, TinyPhi3];

    /// <summary>The fixtures whose models are mixtures of experts.</summary>
    public static readonly string[] MixturesOfExperts = [TinyMixtral, TinyQwen3Moe, TinyQwen2Moe];

    public static string Directory(string name)
    {
        string bundled = EngineCatalog.Bundled(name);
        if (System.IO.Directory.Exists(bundled)) return bundled;
        // Fall back to the source tree (running from an IDE with another output layout).
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? ".", "Models", "Checkpoints", name);
    }

    public static Reference Load(string name)
    {
        using var file = SafetensorsFile.Open(Path.Combine(Directory(name), "reference.safetensors"));
        var logits = file.ReadFloats("logits");
        int[] tokens = file.ReadInt32("tokens");
        return new Reference(tokens, logits, file.ReadInt32("greedy"), logits.Length / tokens.Length);
    }

    /// <summary>max |a - b| / max |ref|: the acceptance metric the fixtures' READMEs define.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> reference)
    {
        Assert.Equal(reference.Length, actual.Length);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - reference[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)reference[i]));
        }
        return maxDiff / maxRef;
    }
}

/// <param name="Tokens">the 24 prompt tokens</param>
/// <param name="Logits">(24, V) logits after each prompt token</param>
/// <param name="Greedy">the 16-token greedy continuation</param>
/// <param name="Vocab">V</param>
public sealed record Reference(int[] Tokens, float[] Logits, int[] Greedy, int Vocab)
{
    public ReadOnlySpan<float> Row(int t) => Logits.AsSpan(t * Vocab, Vocab);
}
