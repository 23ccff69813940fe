using Tessera.Text;

namespace Tessera.Runtime.Tests.Text;

public sealed class StreamingDecoderTests
{
    private static readonly Lazy<BpeTokenizer> Gpt2 = new(Gpt2TokenizerTests.Load);

    [Fact]
    public void Streaming_TokenByToken_ConcatenatesToTheFullDecode()
    {
        var tokenizer = Gpt2.Value;
        string text = Gpt2TokenizerTests.VariedText();
        int[] ids = tokenizer.Encode(text);
        var decoder = new StreamingDecoder(tokenizer);
        string streamed = string.Concat(ids.Select(decoder.Add)) + decoder.Flush();
        Assert.Equal(text, streamed);
        Assert.Equal(ids.Length, decoder.Count);
    }

    [Fact]
    public void Streaming_HoldsBackACharacterSplitAcrossTokens_UntilItIsComplete()
    {
        // " 🌍" is three GPT-2 tokens: 12520 = " " + 0xF0 0x9F, 234 = 0x8C, 235 = 0x8D.
        var decoder = new StreamingDecoder(Gpt2.Value);
        Assert.Equal("hello", decoder.Add(31373));
        Assert.Equal(" world", decoder.Add(995));
        Assert.Equal(" ", decoder.Add(12520));
        Assert.Equal("", decoder.Add(234));
        Assert.Equal("🌍", decoder.Add(235));
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Streaming_AnInvalidSequence_BecomesTheReplacementCharacter_AsInDecode()
    {
        var decoder = new StreamingDecoder(Gpt2.Value);
        Assert.Equal("", decoder.Add(158));          // 0xE2: a lead byte, held back
        Assert.Equal("\uFFFDa", decoder.Add(64));    // 'a' cannot continue it
        Assert.Equal("", decoder.Add(158));
        Assert.Equal("\uFFFD", decoder.Flush());     // the sequence ended inside a character
        Assert.Equal("\uFFFDa\uFFFD", Gpt2.Value.Decode([158, 64, 158]));
    }

    [Fact]
    public void Streaming_SkipsSpecialTokens_UnlessAskedToKeepThem()
    {
        Assert.Equal("", new StreamingDecoder(Gpt2.Value).Add(50256));
        Assert.Equal("<|endoftext|>", new StreamingDecoder(Gpt2.Value, skipSpecialTokens: false).Add(50256));
    }

    [Fact]
    public void Streaming_WithTheBundledLlamaTokenizer_MatchesDecode()
    {
        var tokenizer = Tokenizers.Load(BundledTokenizerTests.Checkpoint("tiny-llama"));
        string text = "The keeper wrote: “steady light” 👋 — naïve 世界.";
        int[] ids = tokenizer.Encode(text);
        var decoder = new StreamingDecoder(tokenizer);
        var pieces = ids.Select(decoder.Add).ToList();
        Assert.Equal(text, string.Concat(pieces) + decoder.Flush());
        Assert.Equal("", pieces[0]); // <s>
    }

    [Fact]
    public void Reset_StartsANewSequence()
    {
        var decoder = new StreamingDecoder(Gpt2.Value);
        decoder.Add(12520);
        decoder.Reset();
        Assert.Equal("hello", decoder.Add(31373));
        Assert.Equal(1, decoder.Count);
    }
}
