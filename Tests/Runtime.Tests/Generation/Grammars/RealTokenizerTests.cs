using System.Diagnostics;
using System.Text.Json;
using Tessera.Generation;
using Tessera.Generation.Grammars;
using Tessera.Text;
using Xunit.Abstractions;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>
/// The matcher over real vocabularies: the bundled tiny Llama's (512 ids, byte fallback) and Qwen3's (151k ids,
/// byte-level BPE, where many tokens are pieces of multi-byte characters and many cross JSON's structure, like '":"').
/// Random logits are sampled with the constraint until the output completes; every output must parse and conform.
/// </summary>
public sealed class RealTokenizerTests(ITestOutputHelper output)
{
    private const string Person = """
        {
          "type": "object",
          "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "email": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "role": {"enum": ["admin", "user", "Gäst"]},
            "address": {"$ref": "#/$defs/address"}
          },
          "required": ["name", "age", "role"],
          "additionalProperties": false,
          "$defs": {
            "address": {
              "type": "object",
              "properties": {"city": {"type": "string"}, "zip": {"type": "number"}},
              "required": ["city"],
              "additionalProperties": false
            }
          }
        }
        """;

    private static void AssertConforms(GrammarSampling.Sample sample, string schema, int seed)
    {
        Assert.True(sample.Stopped, $"seed {seed}: no stop token: {sample.Text}");
        using var document = JsonDocument.Parse(sample.Bytes);
        string? reason = SchemaConformance.Check(document.RootElement, GrammarSampling.Json(schema));
        Assert.True(reason is null, $"seed {seed}: {sample.Text}: {reason}");
    }

    [Fact]
    public void TinyLlama_SampledUnderASchema_AlwaysConforms()
    {
        var tokenizer = GrammarSampling.TinyLlama;
        var factory = JsonConstraints.ForResponseFormat(GrammarSampling.Json(Person), tokenizer);
        for (int seed = 0; seed < 30; seed++) AssertConforms(GrammarSampling.Run(factory, tokenizer, seed, maxTokens: 3000), Person, seed);
    }

    [Fact]
    public void TinyLlama_SampledAsAnyJsonObject_AlwaysParses()
    {
        var tokenizer = GrammarSampling.TinyLlama;
        var factory = JsonConstraints.ForResponseFormat(null, tokenizer);
        for (int seed = 0; seed < 30; seed++)
        {
            var sample = GrammarSampling.Run(factory, tokenizer, seed, maxTokens: 3000);
            Assert.True(sample.Stopped, $"seed {seed}: no stop token: {sample.Text}");
            using var document = JsonDocument.Parse(sample.Bytes);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }
    }

    [Qwen3Fact]
    public void Qwen3_SampledUnderASchema_AlwaysConforms_MultiByteCharactersSplitAcrossTokensIncluded()
    {
        var tokenizer = GrammarSampling.Qwen3!;
        var factory = JsonConstraints.ForResponseFormat(GrammarSampling.Json(Person), tokenizer);
        int split = 0;
        for (int seed = 0; seed < 12; seed++)
        {
            var sample = GrammarSampling.Run(factory, tokenizer, seed, maxTokens: 400);
            AssertConforms(sample, Person, seed);
            _ = sample.Text; // valid UTF-8, or this throws
            split += sample.Tokens.Count(t => !tokenizer.EndOfSequence.Contains(t) && !IsWholeUtf8(tokenizer.TokenBytes(t)));
        }
        output.WriteLine($"tokens that were pieces of a multi-byte character: {split}");
        Assert.True(split > 0, "random Qwen3 tokens should include pieces of multi-byte characters");
    }

    [Qwen3Fact]
    public void Qwen3_ToolCalls_NameADeclaredFunction_WithItsOwnArguments()
    {
        var tokenizer = GrammarSampling.Qwen3!;
        ToolSchema[] tools =
        [
            new("get_weather", GrammarSampling.Json("""{"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"], "additionalProperties": false}""")),
            new("add", GrammarSampling.Json("""{"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"], "additionalProperties": false}""")),
        ];
        var factory = GrammarConstraint.Factory(ToolCallGrammar.Hermes(tools), tokenizer);
        for (int seed = 0; seed < 8; seed++)
        {
            var sample = GrammarSampling.Run(factory, tokenizer, seed, maxTokens: 400);
            Assert.True(sample.Stopped, sample.Text);
            string text = sample.Text;
            Assert.StartsWith("<tool_call>\n", text);
            Assert.EndsWith("\n</tool_call>", text);
            using var call = JsonDocument.Parse(text["<tool_call>\n".Length..^"\n</tool_call>".Length]);
            string name = call.RootElement.GetProperty("name").GetString()!;
            var tool = tools.Single(t => t.Name == name);
            Assert.Null(SchemaConformance.Check(call.RootElement.GetProperty("arguments"), tool.Parameters!.Value));
        }
    }

    /// <summary>
    /// Mask times on Qwen3's vocabulary, printed, in a string and at structure points: the first mask of a sequence
    /// there; a trie walk (nothing cached); a state met for the first time whose positions were seen before (the usual
    /// case from a sequence's second string on); a state's cached mask.
    /// </summary>
    [Qwen3Fact]
    public void Qwen3_MaskTimes()
    {
        var tokenizer = GrammarSampling.Qwen3!;
        var clock = Stopwatch.StartNew();
        var trie = TokenTrie.For(tokenizer);
        output.WriteLine($"trie: {trie.TokenCount} tokens, {trie.Nodes.Length} nodes, built in {clock.ElapsedMilliseconds} ms (once per tokenizer)");
        var factory = JsonConstraints.ForResponseFormat(GrammarSampling.Json(Person), tokenizer);
        foreach (var (where, prefix) in new[]
        {
            ("start (only '{')", ""),
            ("after '{' (a key must follow)", "{"),
            ("inside a string value", "{\"name\": \"Hello wor"),
            ("after a string value (',' or '}')", "{\"name\": \"Hello\""),
            ("inside an integer", "{\"name\": \"Hello\", \"age\": 4"),
            ("any-object mode, inside a string", null),
        })
        {
            var constraint = (GrammarConstraint)(prefix is null ? JsonConstraints.ForResponseFormat(null, tokenizer)() : factory());
            foreach (int token in tokenizer.Encode(prefix ?? "{\"some key\": \"Hello wor", addSpecialTokens: false)) constraint.Accept(token);
            var logits = new float[tokenizer.VocabSize];
            clock.Restart();
            constraint.Mask(logits, int.MaxValue);
            double first = clock.Elapsed.TotalMicroseconds;
            int allowed = logits.Count(l => !float.IsNegativeInfinity(l));
            const int Rounds = 50;
            clock.Restart();
            for (int i = 0; i < Rounds; i++)
            {
                constraint.ForgetMasks();
                constraint.Mask(logits, int.MaxValue);
            }
            double walk = clock.Elapsed.TotalMicroseconds / Rounds;
            clock.Restart();
            for (int i = 0; i < Rounds; i++)
            {
                constraint.ForgetMasks(positions: false);
                constraint.Mask(logits, int.MaxValue);
            }
            double state = clock.Elapsed.TotalMicroseconds / Rounds;
            clock.Restart();
            for (int i = 0; i < Rounds; i++) constraint.Mask(logits, int.MaxValue);
            double cached = clock.Elapsed.TotalMicroseconds / Rounds;
            output.WriteLine($"{where,-40} allowed {allowed,6}   first mask {first,8:F0} µs   trie walk {walk,7:F0} µs   new state {state,6:F0} µs   cached {cached,5:F0} µs");
        }
    }

    private static bool IsWholeUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            new System.Text.UTF8Encoding(false, true).GetString(bytes);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
    }
}
