using System.Text;
using System.Text.Json;
using Tessera.Generation;
using Tessera.Generation.Grammars;

namespace Tessera.Runtime.Tests.Generation.Grammars;

/// <summary>
/// The token-level matcher over a byte tokenizer (ids 0-255 are bytes, 256 &lt;s&gt; and 257 &lt;/s&gt; are special):
/// which ids a mask leaves, when stop tokens may come, and how multi-byte characters are taken a byte at a time.
/// </summary>
public sealed class GrammarConstraintTests
{
    private static readonly ByteTokenizer Bytes = new();

    private static float[] Allowed(ITokenConstraint constraint, int vocab = 300)
    {
        var logits = new float[vocab];
        constraint.Mask(logits, int.MaxValue);
        return logits;
    }

    private static int[] AllowedIds(ITokenConstraint constraint, int vocab = 300) =>
        Allowed(constraint, vocab).Select((l, id) => (l, id)).Where(x => !float.IsNegativeInfinity(x.l)).Select(x => x.id).ToArray();

    private static GrammarConstraint Constraint(string schema) => (GrammarConstraint)JsonConstraints.ForResponseFormat(GrammarSampling.Json(schema), Bytes)();

    private static void Feed(ITokenConstraint constraint, string text)
    {
        foreach (byte b in Encoding.UTF8.GetBytes(text)) constraint.Accept(b);
    }

    [Fact]
    public void AJsonObject_MayOnlyStartWithABrace()
    {
        var constraint = JsonConstraints.ForResponseFormat(null, Bytes)();
        Assert.Equal([(int)'{'], AllowedIds(constraint));
        Assert.False(constraint.IsComplete);
    }

    [Fact]
    public void AStopToken_IsAllowedOnlyOnceTheOutputIsComplete_AndThenAlone_WhenNothingElseCanFollow()
    {
        var constraint = JsonConstraints.ForResponseFormat(null, Bytes)();
        Feed(constraint, "{\"a\": 1");
        Assert.DoesNotContain(ByteTokenizer.Eos, AllowedIds(constraint));
        Assert.Throws<InvalidOperationException>(() => constraint.Accept(ByteTokenizer.Eos));
        Feed(constraint, "}");
        Assert.True(constraint.IsComplete);
        Assert.Equal([ByteTokenizer.Eos], AllowedIds(constraint));
        constraint.Accept(ByteTokenizer.Eos);
    }

    [Fact]
    public void ANumberMayGoOn_OrTheOutputMayStop_WhereBothAreValid()
    {
        var constraint = Constraint("""{"type": "integer"}""");
        Feed(constraint, "12");
        Assert.Equal([.. "0123456789".Select(c => (int)c), ByteTokenizer.Eos], AllowedIds(constraint));
    }

    [Fact]
    public void SpecialTokens_AreNeverAllowed_NorIdsPastTheTokenizersVocabulary()
    {
        var constraint = JsonConstraints.ForResponseFormat(null, Bytes)();
        Feed(constraint, "{\"");
        var ids = AllowedIds(constraint, vocab: 320);
        Assert.DoesNotContain(ByteTokenizer.Bos, ids);
        Assert.All(ids, id => Assert.True(id < 256));
        Assert.Throws<InvalidOperationException>(() => constraint.Accept(ByteTokenizer.Bos));
    }

    [Fact]
    public void AMultiByteCharacter_IsTakenAByteAtATime_AndOnlyItsValidContinuationsAreAllowed()
    {
        var constraint = Constraint("""{"type": "string"}""");
        Feed(constraint, "\"");
        // A string's first byte: no control bytes, no lone continuation bytes, no bytes that never start UTF-8.
        var first = AllowedIds(constraint);
        Assert.DoesNotContain(0x0A, first);
        Assert.DoesNotContain(0x80, first);
        Assert.DoesNotContain(0xC0, first);
        Assert.DoesNotContain(0xF5, first);
        Assert.Contains(0xC3, first);
        Assert.Contains(0xF0, first);

        constraint.Accept(0xE2); // the first byte of "€" (E2 82 AC)
        Assert.Equal(Enumerable.Range(0x80, 0x40), AllowedIds(constraint));
        constraint.Accept(0x82);
        Assert.Equal(Enumerable.Range(0x80, 0x40), AllowedIds(constraint));
        Assert.Throws<InvalidOperationException>(() => constraint.Accept('"')); // a quote cannot cut a character
        constraint.Accept(0xAC);
        Assert.Contains('"', AllowedIds(constraint));

        constraint.Accept(0xED); // ED A0..BF would be a surrogate
        Assert.Equal(Enumerable.Range(0x80, 0x20), AllowedIds(constraint));
    }

    [Fact]
    public void ATokenThatWasMasked_IsRefusedWhenAccepted()
    {
        var constraint = Constraint("""{"type": "boolean"}""");
        Assert.Equal([(int)'f', (int)'t'], AllowedIds(constraint));
        var error = Assert.Throws<InvalidOperationException>(() => constraint.Accept('x'));
        Assert.Contains("masked", error.Message);
    }

    [Fact]
    public void SampledByteByByte_EveryOutputIsAJsonObject()
    {
        var factory = JsonConstraints.ForResponseFormat(null, Bytes);
        for (int seed = 0; seed < 30; seed++)
        {
            var sample = GrammarSampling.Run(factory, Bytes, seed, maxTokens: 2000);
            Assert.True(sample.Stopped, $"seed {seed}: no stop within 2000 tokens: {sample.Text}");
            using var document = JsonDocument.Parse(sample.Bytes);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }
    }

    [Fact]
    public void AMaskThatLeavesNothingButTheGrammarsOnlyByte_LeavesExactlyIt()
    {
        var constraint = Constraint("""{"type": "object", "properties": {"k": {"const": "v"}}, "required": ["k"], "additionalProperties": false}""");
        foreach (char c in "{\"k\":")
        {
            Assert.Equal([(int)c], AllowedIds(constraint));
            constraint.Accept(c);
        }
        Assert.Equal([(int)' ', (int)'"'], AllowedIds(constraint)); // at most one space after ':'
    }

    [Theory]
    [InlineData(null, 40)]
    [InlineData("""{"type": "array", "items": {"type": "object", "properties": {"note": {"type": "string"}, "more": {"type": "array", "items": {"type": "string"}}}, "required": ["note", "more"], "additionalProperties": false}}""", 90)]
    public void AModelThatNeverWantsToStop_IsSteeredToAWholeAnswer_WithinItsMaxTokens(string? schema, int maxTokens)
    {
        // The worst model for a budget: it always prefers to open, go on and never close (brackets, quotes, letters
        // before everything else). Held to the grammar alone it runs past max_tokens; with the budget it ends in time.
        var stubborn = new float[ByteTokenizer.Eos + 1];
        foreach (char c in "[{\",:ax") stubborn[c] = 10;
        stubborn['"'] = 5;
        stubborn['a'] = 20;
        for (int seed = 1; seed <= 5; seed++)
        {
            var sampler = new Sampler(new SamplingOptions
            {
                Temperature = 1, Seed = seed, MaxTokens = maxTokens,
                Constraint = JsonConstraints.ForResponseFormat(schema is null ? null : GrammarSampling.Json(schema), Bytes),
            });
            var output = new List<byte>();
            int token;
            do
            {
                token = sampler.Sample(stubborn.ToArray());
                if (token != ByteTokenizer.Eos) output.Add((byte)token);
            }
            while (token != ByteTokenizer.Eos && output.Count < maxTokens);

            Assert.Equal(ByteTokenizer.Eos, token);
            Assert.True(output.Count < maxTokens, $"seed {seed}: {output.Count} tokens");
            using var parsed = JsonDocument.Parse(output.ToArray());
            Assert.Equal(schema is null ? JsonValueKind.Object : JsonValueKind.Array, parsed.RootElement.ValueKind);
        }
    }

    [Fact]
    public void WithSlackLeft_TheBudgetChangesNothing()
    {
        var free = Constraint("""{"type": "array", "items": {"type": "string"}}""");
        var budgeted = Constraint("""{"type": "array", "items": {"type": "string"}}""");
        Feed(free, "[\"ab");
        Feed(budgeted, "[\"ab"); // the shortest way to a whole answer: "] (2 bytes)
        var logits = new float[300];
        budgeted.Mask(logits, tokensLeft: 2 + 1 + GrammarConstraint.ClosingReserve + 1);
        Assert.Equal(AllowedIds(free), logits.Select((l, id) => (l, id)).Where(x => !float.IsNegativeInfinity(x.l)).Select(x => x.id));

        budgeted.Mask(logits = new float[300], tokensLeft: 2 + 1 + GrammarConstraint.ClosingReserve);
        Assert.Equal([(int)'"'], logits.Select((l, id) => (l, id)).Where(x => !float.IsNegativeInfinity(x.l)).Select(x => x.id));
    }
}
