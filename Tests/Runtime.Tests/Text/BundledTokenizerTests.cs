using Tessera.Runtime.Tests.Checkpoints;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>The tokenizers bundled with the tiny models (Models/Checkpoints), trained on Models/Checkpoints/tokenizer-corpus.txt.</summary>
public sealed class BundledTokenizerTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (Directory.Exists(Path.Combine(directory.FullName, "Models", "Checkpoints", "tiny-llama")))
                return Path.Combine(directory.FullName, "Models", "Checkpoints");
        throw new DirectoryNotFoundException("Models/Checkpoints not found above " + AppContext.BaseDirectory);
    });

    internal static string Checkpoint(string name) => Path.Combine(Root.Value, name);

    internal static string CorpusPath => Path.Combine(Root.Value, "tokenizer-corpus.txt");

    private const string Unicode = "Ünïcödé — “quotes”, Привет, 世界, 안녕, 👋🌍, tabs\tand\r\nnewlines  ";

    [Theory]
    [InlineData("tiny-llama", 512)]
    [InlineData("tiny-gpt2", 384)]
    public void Bundled_HasExactlyTheModelsVocabularySize(string model, int vocabSize)
    {
        var tokenizer = Tokenizers.Load(Checkpoint(model));
        Assert.Equal(vocabSize, tokenizer.VocabSize);
        Assert.True(tokenizer.ByteLevelInput);
        for (int id = 0; id < vocabSize; id++) Assert.NotNull(tokenizer.IdToToken(id)); // no holes
    }

    [Fact]
    public void TinyLlama_AddsBos1_AndEndsWithEos2()
    {
        var tokenizer = Tokenizers.Load(Checkpoint("tiny-llama"));
        Assert.Equal(1, tokenizer.BeginOfSequence);
        Assert.Equal([2], tokenizer.EndOfSequence);
        Assert.Equal("<s>", tokenizer.IdToToken(1));
        Assert.Equal("</s>", tokenizer.IdToToken(2));
        int[] ids = tokenizer.Encode("The light is steady.");
        Assert.Equal(1, ids[0]);
        Assert.Equal([2], tokenizer.Encode("</s>", addSpecialTokens: false));
    }

    [Fact]
    public void TinyGpt2_HasNoBos_AndEndOfText383()
    {
        var tokenizer = Tokenizers.Load(Checkpoint("tiny-gpt2"));
        Assert.Null(tokenizer.BeginOfSequence);
        Assert.Equal([383], tokenizer.EndOfSequence);
        Assert.Equal([383], tokenizer.Encode("<|endoftext|>"));
        Assert.True(tokenizer.IsSpecial(383));
    }

    [Theory]
    [InlineData("tiny-llama")]
    [InlineData("tiny-gpt2")]
    public void Bundled_RoundTripTheCorpusAndUnicodeText(string model)
    {
        var tokenizer = Tokenizers.Load(Checkpoint(model));
        string corpus = File.ReadAllText(CorpusPath);
        foreach (string text in new[] { corpus, Unicode, "" })
        {
            int[] ids = tokenizer.Encode(text);
            Assert.All(ids, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
            Assert.Equal(text, tokenizer.Decode(ids));
        }
        int tokens = tokenizer.Encode(corpus).Length;
        Assert.True(tokens < corpus.Length * 0.7, $"the merges should compress the training text: {tokens} tokens for {corpus.Length} chars");
    }

    [Fact]
    public void Bundled_AreExactlyWhatTheTrainerMakesFromTheCorpus()
    {
        string corpus = File.ReadAllText(CorpusPath);
        var llama = BpeTrainer.Train(corpus, 512, ["<unk>", "<s>", "</s>"], SpecialTokenPlacement.First, ByteLevel.Llama3Pattern);
        foreach (string file in llama.WriteTokenizerJson(Path.Combine(_folder.Path, "llama"), "<s>", "</s>"))
            Assert.Equal(File.ReadAllText(Path.Combine(Checkpoint("tiny-llama"), Path.GetFileName(file))), File.ReadAllText(file));

        var gpt2 = BpeTrainer.Train(corpus, 384, ["<|endoftext|>"], SpecialTokenPlacement.Last, ByteLevel.Gpt2Pattern);
        foreach (string file in gpt2.WriteGpt2Files(Path.Combine(_folder.Path, "gpt2")))
            Assert.Equal(File.ReadAllText(Path.Combine(Checkpoint("tiny-gpt2"), Path.GetFileName(file))), File.ReadAllText(file));
    }
}
