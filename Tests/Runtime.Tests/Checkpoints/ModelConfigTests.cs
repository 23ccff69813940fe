using Tessera.Checkpoints;

namespace Tessera.Runtime.Tests.Checkpoints;

public sealed class ModelConfigTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private ModelConfig Load(string json)
    {
        File.WriteAllText(_folder.File("config.json"), json);
        return ModelConfig.Load(_folder.File("config.json"));
    }

    [Fact]
    public void Values_AreReadWithTheirTypes()
    {
        var config = Load("""{"hidden_size": 64, "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "hidden_act": "silu", "n_layer": 2.0}""");
        Assert.Equal(64, config.GetInt("hidden_size", "Dim"));
        Assert.Equal(1e-5f, config.GetFloat("rms_norm_eps", "Eps"));
        Assert.True(config.GetBool("tie_word_embeddings", "TiedHead"));
        Assert.Equal("silu", config.GetString("hidden_act"));
        Assert.Equal(2, config.GetInt("n_layer", "Layers"));
    }

    [Fact]
    public void MissingKey_NamesTheKeyTheFieldAndTheFile()
    {
        var config = Load("""{"hidden_size": 64}""");
        var e = Assert.Throws<CheckpointException>(() => config.GetInt("num_attention_heads|n_head", "Heads"));
        Assert.Contains("\"num_attention_heads\" or \"n_head\"", e.Message);
        Assert.Contains("Heads", e.Message);
        Assert.Contains(_folder.File("config.json"), e.Message);
    }

    [Fact]
    public void MissingKey_UsesTheFallbackWhenGiven()
    {
        var config = Load("{}");
        Assert.Equal(7, config.GetInt("n", "N", fallback: 7));
        Assert.Equal(0.5f, config.GetFloat("f", "F", fallback: 0.5f));
        Assert.False(config.GetBool("b", "B", fallback: false));
        Assert.Null(config.GetString("s"));
    }

    [Fact]
    public void Alternatives_TakeTheFirstPresentKey()
    {
        var config = Load("""{"n_embd": 32, "hidden_size": 64}""");
        Assert.Equal(64, config.GetInt("hidden_size|n_embd", "Dim"));
        Assert.Equal(32, config.GetInt("d_model|n_embd|hidden_size", "Dim"));
    }

    [Fact]
    public void NullValues_CountAsMissing()
    {
        var config = Load("""{"num_key_value_heads": null, "num_attention_heads": 8, "rope_scaling": null}""");
        Assert.Equal(8, config.GetInt("num_key_value_heads|num_attention_heads", "KvHeads"));
        Assert.False(config.TryGet("rope_scaling", out _));
        Assert.Throws<CheckpointException>(() => config.GetInt("num_key_value_heads", "KvHeads"));
        Assert.Equal(4, config.GetInt("num_key_value_heads", "KvHeads", fallback: 4));
    }

    [Theory]
    [InlineData("""{"hidden_size": "64"}""")]
    [InlineData("""{"hidden_size": 64.5}""")]
    [InlineData("""{"hidden_size": 1e12}""")]
    [InlineData("""{"hidden_size": [64]}""")]
    public void WrongType_NamesTheKeyAndTheValue(string json)
    {
        var e = Assert.Throws<CheckpointException>(() => Load(json).GetInt("hidden_size", "Dim"));
        Assert.Contains("hidden_size", e.Message);
        Assert.Contains(_folder.File("config.json"), e.Message);
    }

    [Fact]
    public void WrongTypeForFloatAndBool_IsReported()
    {
        var config = Load("""{"eps": "small", "tied": 1}""");
        Assert.Throws<CheckpointException>(() => config.GetFloat("eps", "Eps"));
        Assert.Throws<CheckpointException>(() => config.GetBool("tied", "TiedHead"));
    }

    [Theory]
    [InlineData("{\"hidden_size\": 64,")]
    [InlineData("")]
    [InlineData("[1, 2]")]
    public void MalformedJson_IsACheckpointException_NamingTheFile(string json)
    {
        File.WriteAllText(_folder.File("config.json"), json);
        var e = Assert.Throws<CheckpointException>(() => ModelConfig.Load(_folder.File("config.json")));
        Assert.Contains(_folder.File("config.json"), e.Message);
    }

    [Theory]
    [InlineData("{\"hidden_size\": 64,")]
    [InlineData("42")]
    public void MalformedJson_IsACheckpointException_WhenParsedFromText(string json)
    {
        var e = Assert.Throws<CheckpointException>(() => ModelConfig.Parse(json, "fixtures/config.json"));
        Assert.Contains("fixtures/config.json", e.Message);
    }

    [Fact]
    public void MissingFile_IsReported()
    {
        var e = Assert.Throws<CheckpointException>(() => ModelConfig.Load(_folder.File("config.json")));
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void AStringThatSpellsALoneSurrogate_IsACheckpointErrorNamingTheKey()
    {
        // Once: an InvalidOperationException's stack trace from the command line.
        var config = Load("""{"model_type": "\ud800llama"}""");
        Assert.Contains("\"model_type\" is not valid Unicode text", Assert.Throws<CheckpointException>(() => config.GetString("model_type")).Message);
    }
}
