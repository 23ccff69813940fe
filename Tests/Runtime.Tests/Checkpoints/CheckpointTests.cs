using Tessera.Checkpoints;

namespace Tessera.Runtime.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    private const string Config = """{"hidden_size": 4, "num_hidden_layers": 1}""";

    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>0, 0.5, 1, ... : exactly representable in F16 and BF16, so every dtype must give them back exactly.</summary>
    private static float[] Halves(int count, float offset = 0) => Enumerable.Range(0, count).Select(i => offset + i * 0.5f - 3).ToArray();

    private Checkpoint Open(params TensorBytes[] tensors)
    {
        File.WriteAllText(_folder.File("config.json"), Config);
        SafetensorsWriter.Write(_folder.File("model.safetensors"), tensors);
        return Checkpoint.Open(_folder.Path);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void LoadMatrix_ConvertsEveryFloatDType_ToF32(string dtype)
    {
        var values = Halves(12);
        var tensor = dtype switch
        {
            "F16" => TensorBytes.F16("w", [3, 4], values),
            "BF16" => TensorBytes.BF16("w", [3, 4], values),
            _ => TensorBytes.F32("w", [3, 4], values),
        };
        using var checkpoint = Open(tensor);
        Assert.Equal(values, checkpoint.LoadMatrix("w", 3, 4, WeightLayout.OutIn, "Out = 3, In = 4"));
        Assert.Equal(12 * sizeof(float), checkpoint.BytesLoaded);
    }

    [Fact]
    public void LoadMatrix_RoundsNothing_ForF16AndBF16ValuesOfRandomF32()
    {
        // F16 keeps what Half keeps; BF16 keeps the upper 16 bits of the F32 pattern.
        var values = Cpu.TestData.Random(20, 3, scale: 10);
        using var checkpoint = Open(TensorBytes.F16("h", [20], values), TensorBytes.BF16("b", [20], values));
        Assert.Equal(values.Select(v => (float)(Half)v), checkpoint.LoadVector("h", 20, "Dim = 20"));
        Assert.Equal(values.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000)), checkpoint.LoadVector("b", 20, "Dim = 20"));
    }

    [Fact]
    public void LoadMatrix_TransposesInOutWeights_ToOutIn()
    {
        // Stored [in = 2, out = 3] as GPT-2's Conv1D does: row i holds the weights from input i.
        float[] stored = [1, 2, 3, 4, 5, 6];
        using var checkpoint = Open(TensorBytes.F32("c_attn", [2, 3], stored));
        Assert.Equal([1f, 4, 2, 5, 3, 6], checkpoint.LoadMatrix("c_attn", 3, 2, WeightLayout.InOut, "Out = 3, In = 2"));
    }

    [Theory]
    [InlineData(WeightLayout.OutIn)]
    [InlineData(WeightLayout.InOut)]
    public void LoadMatrix_ReadsTheRequestedBlock_ForBothLayouts(WeightLayout layout)
    {
        const int outs = 5, ins = 7;
        // Element (o, i) of the logical [out, in] matrix is 10 o + i, whichever way it is stored.
        var stored = new float[outs * ins];
        for (int o = 0; o < outs; o++)
            for (int i = 0; i < ins; i++)
                stored[layout == WeightLayout.OutIn ? o * ins + i : i * outs + o] = 10 * o + i;
        long[] shape = layout == WeightLayout.OutIn ? [outs, ins] : [ins, outs];
        using var checkpoint = Open(TensorBytes.BF16("w", shape, stored));

        var block = checkpoint.LoadMatrix("w", outs, ins, layout, "Out = 5, In = 7", outStart: 1, outCount: 3, inStart: 2, inCount: 4);
        Assert.Equal([12f, 13, 14, 15, 22, 23, 24, 25, 32, 33, 34, 35], block);
        // Column-parallel (rows only) and row-parallel (columns only) shards.
        Assert.Equal([40f, 41, 42, 43, 44, 45, 46], checkpoint.LoadMatrix("w", outs, ins, layout, "", outStart: 4, outCount: 1));
        Assert.Equal([6f, 16, 26, 36, 46], checkpoint.LoadMatrix("w", outs, ins, layout, "", inStart: 6, inCount: 1));
    }

    [Fact]
    public void LoadVector_ReadsASlice()
    {
        using var checkpoint = Open(TensorBytes.F16("b", [8], Halves(8)));
        Assert.Equal(Halves(8)[2..5], checkpoint.LoadVector("b", 8, "Dim = 8", start: 2, count: 3));
    }

    [Fact]
    public void LoadMatrix_RejectsABlockOutsideTheTensor()
    {
        using var checkpoint = Open(TensorBytes.F32("w", [3, 4], Halves(12)), TensorBytes.F32("v", [4], Halves(4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoint.LoadMatrix("w", 3, 4, WeightLayout.OutIn, "", outStart: 2, outCount: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoint.LoadMatrix("w", 3, 4, WeightLayout.OutIn, "", inStart: -1, inCount: 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoint.LoadVector("v", 4, "", start: 3, count: 2));
    }

    [Fact]
    public void MissingTensor_NamesTheTensorAndTheCheckpoint()
    {
        using var checkpoint = Open(TensorBytes.F32("present", [2], [1, 2]));
        var e = Assert.Throws<CheckpointException>(() => checkpoint.LoadVector("model.norm.weight", 2, "Dim = 2"));
        Assert.Contains("\"model.norm.weight\"", e.Message);
        Assert.Contains(_folder.Path, e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.False(checkpoint.Has("model.norm.weight"));
        Assert.True(checkpoint.Has("present"));
    }

    [Fact]
    public void ShapeMismatch_NamesTheFileTheTensorAndBothShapes()
    {
        using var checkpoint = Open(TensorBytes.F32("lm_head.weight", [3, 4], Halves(12)));
        var e = Assert.Throws<CheckpointException>(() => checkpoint.LoadMatrix("lm_head.weight", 4, 4, WeightLayout.OutIn, "Out = Vocab = 4, In = Dim = 4"));
        Assert.Contains(_folder.File("model.safetensors"), e.Message);
        Assert.Contains("\"lm_head.weight\"", e.Message);
        Assert.Contains("[3, 4]", e.Message);
        Assert.Contains("[4, 4]", e.Message);
        Assert.Contains("Out = Vocab = 4", e.Message);
    }

    [Fact]
    public void IntegerDType_IsRejected_NamingTheFileAndTensor()
    {
        using var checkpoint = Open(TensorBytes.I32("ids", [2, 2], [1, 2, 3, 4]));
        var e = Assert.Throws<CheckpointException>(() => checkpoint.LoadMatrix("ids", 2, 2, WeightLayout.OutIn, ""));
        Assert.Contains(_folder.File("model.safetensors"), e.Message);
        Assert.Contains("\"ids\"", e.Message);
        Assert.Contains("I32", e.Message);
    }

    [Fact]
    public void ShardedCheckpoint_IsReadThroughItsIndex()
    {
        File.WriteAllText(_folder.File("config.json"), Config);
        SafetensorsWriter.Write(_folder.File("model-00001-of-00002.safetensors"), TensorBytes.F32("a", [2], [1, 2]));
        SafetensorsWriter.Write(_folder.File("model-00002-of-00002.safetensors"), TensorBytes.BF16("b", [2, 2], [3, 4, 5, 6]));
        File.WriteAllText(_folder.File("model.safetensors.index.json"), """
            {"metadata": {"total_size": 16},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
            """);
        using var checkpoint = Checkpoint.Open(_folder.Path);
        Assert.Equal(["a", "b"], checkpoint.TensorNames.Order());
        Assert.Equal([1f, 2], checkpoint.LoadVector("a", 2, ""));
        Assert.Equal([3f, 5, 4, 6], checkpoint.LoadMatrix("b", 2, 2, WeightLayout.InOut, ""));
        Assert.Equal(4, checkpoint.Config.GetInt("hidden_size", "Dim"));
    }

    [Fact]
    public void ShardedCheckpoint_WithAMissingShard_NamesTheShard()
    {
        File.WriteAllText(_folder.File("config.json"), Config);
        File.WriteAllText(_folder.File("model.safetensors.index.json"), """{"weight_map": {"a": "gone.safetensors"}}""");
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("gone.safetensors", e.Message);
    }

    [Theory]
    [InlineData("""{"weight_map": 3}""")]
    [InlineData("""{"metadata": {}}""")]
    [InlineData("""{"weight_map": {"a": 1}}""")]
    [InlineData("not json")]
    public void MalformedIndex_NamesTheIndexFile(string index)
    {
        File.WriteAllText(_folder.File("config.json"), Config);
        File.WriteAllText(_folder.File("model.safetensors.index.json"), index);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("model.safetensors.index.json", e.Message);
    }

    [Fact]
    public void FolderWithoutWeights_SaysWhatIsMissing()
    {
        File.WriteAllText(_folder.File("config.json"), Config);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Throws<CheckpointException>(() => Checkpoint.Open(_folder.File("nowhere")));
    }

    [Fact]
    public void TensorsAreReadOnDemand_WithCorrectOffsetsAfterOtherTensors()
    {
        // Mixed dtypes shift later tensors to odd byte offsets.
        using var checkpoint = Open(
            TensorBytes.BF16("first", [3], [1, 2, 3]),
            TensorBytes.F32("second", [2, 2], [4, 5, 6, 7]),
            TensorBytes.F16("third", [1], [8]));
        Assert.Equal([8f], checkpoint.LoadVector("third", 1, ""));
        Assert.Equal([4f, 5, 6, 7], checkpoint.LoadMatrix("second", 2, 2, WeightLayout.OutIn, ""));
        Assert.Equal([1f, 2, 3], checkpoint.LoadVector("first", 3, ""));
    }
}
