using Tessera.Runtime.Tests.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

public sealed class BpeTrainerTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static string Corpus => File.ReadAllText(BundledTokenizerTests.CorpusPath);

    [Fact]
    public void Train_MergesTheMostFrequentPairFirst()
    {
        var trained = BpeTrainer.Train("aaab aaab aaab xy", 258);
        Assert.Equal(("a", "a"), trained.Merges[0]);
        Assert.Equal(258, trained.VocabSize);
    }

    [Fact]
    public void Train_BreaksTiesByOrdinalOrderOfTheTokenStrings()
    {
        // Pieces "ab" and " cd": three pairs seen once each; "a" < "c" < "Ġ".
        var trained = BpeTrainer.Train("ab cd", 259);
        Assert.Equal([("a", "b"), ("c", "d"), ("Ġ", "cd")], trained.Merges);
    }

    [Fact]
    public void Train_IsDeterministic_DownToTheBytesWritten()
    {
        var first = BpeTrainer.Train(Corpus, 400, ["<unk>", "<s>", "</s>"], pattern: ByteLevel.Llama3Pattern);
        var second = BpeTrainer.Train(Corpus, 400, ["<unk>", "<s>", "</s>"], pattern: ByteLevel.Llama3Pattern);
        Assert.Equal(first.Merges, second.Merges);
        Assert.Equal(first.Tokens, second.Tokens);
        first.WriteTokenizerJson(Path.Combine(_folder.Path, "a"), "<s>", "</s>");
        second.WriteTokenizerJson(Path.Combine(_folder.Path, "b"), "<s>", "</s>");
        Assert.Equal(File.ReadAllBytes(Path.Combine(_folder.Path, "a", "tokenizer.json")), File.ReadAllBytes(Path.Combine(_folder.Path, "b", "tokenizer.json")));
    }

    [Fact]
    public void Train_PlacesSpecialTokensFirstOrLast_AndHitsTheSizeExactly()
    {
        var first = BpeTrainer.Train(Corpus, 300, ["<unk>", "<s>", "</s>"], SpecialTokenPlacement.First);
        Assert.Equal(["<unk>", "<s>", "</s>"], first.Tokens.Take(3));
        Assert.Equal("!", first.Tokens[3]); // GPT-2's byte order: printable bytes first
        Assert.Equal(300, first.VocabSize);

        var last = BpeTrainer.Train(Corpus, 300, ["<|endoftext|>"], SpecialTokenPlacement.Last);
        Assert.Equal("<|endoftext|>", last.Tokens[299]);
        Assert.Equal("!", last.Tokens[0]);
        Assert.Equal(300, last.VocabSize);
    }

    [Fact]
    public void Train_OnTooShortAText_SaysHowManyTokensItSupports()
    {
        var error = Assert.Throws<ArgumentException>(() => BpeTrainer.Train("ab", 300));
        Assert.Contains("supports only 257 tokens", error.Message);
    }

    [Fact]
    public void Train_RejectsASizeBelowTheByteTokens() =>
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(Corpus, 257, ["<s>", "</s>"]));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TrainedFiles_LoadBack_WithTheTrainedSize_AndRoundTripText(bool gpt2)
    {
        var trained = gpt2
            ? BpeTrainer.Train(Corpus, 320, ["<|endoftext|>"], SpecialTokenPlacement.Last)
            : BpeTrainer.Train(Corpus, 320, ["<unk>", "<s>", "</s>"], SpecialTokenPlacement.First, ByteLevel.Llama3Pattern);
        if (gpt2) trained.WriteGpt2Files(_folder.Path);
        else trained.WriteTokenizerJson(_folder.Path, "<s>", "</s>");

        var tokenizer = Tokenizers.Load(_folder.Path);
        Assert.Equal(320, tokenizer.VocabSize);
        Assert.Equal(gpt2 ? null : 1, tokenizer.BeginOfSequence);
        Assert.Equal([gpt2 ? 319 : 2], tokenizer.EndOfSequence);
        string text = Corpus + " Ünïcödé 👋 世界";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        // Merges are learnt: the corpus takes far fewer tokens than bytes.
        Assert.True(tokenizer.Encode(Corpus).Length < Corpus.Length * 0.6);
    }

    [Fact]
    public void EncodingTheTrainingText_UsesEveryMergeTheWayTrainingDid()
    {
        // Training merges whole-corpus pairs greedily; encoding applies the same merges by rank, so a word seen in
        // training is encoded to the same tokens the trainer ended with. "the" is frequent: one token.
        var trained = BpeTrainer.Train(Corpus, 400, ["<|endoftext|>"], SpecialTokenPlacement.Last);
        trained.WriteGpt2Files(_folder.Path);
        var tokenizer = Tokenizers.Load(_folder.Path);
        Assert.Single(tokenizer.Encode(" the"));
    }
}
