using Tessera.Generation;
using Tessera.Runtime.Tests.Generation;
using Tessera.Text;

namespace Tessera.Models.Tests.Generation;

/// <summary>
/// A batcher whose tokenizer does not match its model (issue 28): ids the tokenizer lacks are never drawn, and a
/// request whose token cannot be turned into text fails alone while the batcher serves the next one.
/// </summary>
public sealed class HostileTokenizerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>A byte tokenizer of <paramref name="vocabSize"/> ids that refuses to decode <paramref name="refused"/>, as a tokenizer.json without it does.</summary>
    private sealed class Refusing(int vocabSize, int refused) : ITokenizer
    {
        private readonly ByteTokenizer _bytes = new(vocabSize);

        public int VocabSize => _bytes.VocabSize;
        public int? BeginOfSequence => _bytes.BeginOfSequence;
        public IReadOnlyList<int> EndOfSequence => _bytes.EndOfSequence;
        public int[] Encode(string text, bool addSpecialTokens = true) => _bytes.Encode(text, addSpecialTokens);
        public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
        {
            foreach (int id in ids) TokenBytes(id);
            return _bytes.Decode(ids, skipSpecialTokens);
        }
        public bool IsSpecial(int id) => _bytes.IsSpecial(id);

        public ReadOnlySpan<byte> TokenBytes(int id) => id == refused
            ? throw new ArgumentOutOfRangeException(nameof(id), id, $"token id {id} is outside the vocabulary.")
            : _bytes.TokenBytes(id);
    }

    [Fact]
    public async Task ATokenizerSmallerThanTheModel_MasksTheIdsItLacks_FromHotSampling()
    {
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        Assert.True(engine.Shape.VocabSize > 300, "the model must have more ids than the tokenizer");
        await using var batcher = new ContinuousBatcher(engine, new ByteTokenizer(vocabSize: 300));
        Assert.Equal(300, batcher.EmittableIds);

        // Before the mask, temperature 1.5 drew id 452 within 40 tokens (the server's 500 of issue 28).
        var output = await batcher.Submit("Once upon a time", new SamplingOptions { Temperature = 1.5f, Seed = 0, MaxTokens = 100, StopTokens = [] })
            .Completion.WaitAsync(Timeout);

        Assert.True(output.Tokens.Length >= 40, $"{output.Tokens.Length} tokens ({output.FinishReason})");
        Assert.All(output.Tokens, id => Assert.InRange(id, 0, 299));
    }

    [Fact]
    public async Task ATokenThatCannotBeDecoded_FailsItsRequestOnly_AndTheBatcherServesTheNext()
    {
        var engine = EngineCatalog.Open(Fixtures.Directory(Fixtures.TinyLlama));
        await using var batcher = new ContinuousBatcher(engine, new Refusing(engine.Shape.VocabSize, refused: 200));

        // The bias makes id 200 the first token: decoding it throws after the forward, outside the forward's try.
        var poisoned = batcher.Submit("Once upon a time", new SamplingOptions { MaxTokens = 4, LogitBias = new Dictionary<int, float> { [200] = 100 } });
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => poisoned.Completion.WaitAsync(Timeout));
        Assert.Contains("token id 200", error.Message);

        Assert.True(batcher.IsAccepting);
        var next = await batcher.Submit("Once upon a time", new SamplingOptions { MaxTokens = 4 }).Completion.WaitAsync(Timeout);
        Assert.Equal(4, next.Tokens.Length);
    }
}
