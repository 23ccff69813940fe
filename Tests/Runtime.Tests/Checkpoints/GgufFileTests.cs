using System.Text;
using Tessera.Checkpoints;
using Tessera.Quantization;

namespace Tessera.Runtime.Tests.Checkpoints;

/// <summary>
/// A GGUF file's header is read whole and checked before anything else: what GgufWriter writes reads back, and a
/// truncated, oversized or inconsistent header is one CheckpointException naming the problem, never an allocation of
/// what a length field claims or a read outside the file.
/// </summary>
public sealed class GgufFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"tessera-gguf-{Guid.NewGuid():N}.gguf");

    public void Dispose() => File.Delete(_path);

    private static byte[] F32Bytes(params float[] values) => values.SelectMany(BitConverter.GetBytes).ToArray();

    [Fact]
    public void WhatTheWriterWrites_ReadsBack_MetadataOfEveryTypeAndTensorsAtAlignedOffsets()
    {
        var q8 = new byte[34 * 2];
        q8[0] = 0x00; q8[1] = 0x3C; // block 0's scale: 1.0 in F16
        q8[2] = 5;
        GgufWriter.Write(_path,
        [
            new("general.architecture", "llama"), new("llama.block_count", 2), new("llama.context_length", 64u),
            new("big", 1L << 40), new("eps", 1e-5f), new("theta", 500000.0), new("flag", true),
            new("tokens", new[] { "a", "b", "ü" }), new("types", new[] { 1, 2, 3 }), new("scores", new[] { 0.5f, -1f }),
        ],
        [
            new("norm.weight", GgmlType.F32, [3], F32Bytes(1, 2, 3)),
            new("w.weight", GgmlType.Q8_0, [64, 1], q8),
        ]);

        using var file = GgufFile.Open(_path);

        Assert.Equal(3u, file.Version);
        Assert.Equal("llama", file.Metadata["general.architecture"]);
        Assert.Equal(2L, file.Metadata["llama.block_count"]);
        Assert.Equal(64L, file.Metadata["llama.context_length"]);
        Assert.Equal(1L << 40, file.Metadata["big"]);
        Assert.Equal(1e-5f, (float)(double)file.Metadata["eps"]);
        Assert.Equal(500000.0, file.Metadata["theta"]);
        Assert.Equal(true, file.Metadata["flag"]);
        Assert.Equal(new[] { "a", "b", "ü" }, file.Metadata["tokens"]);
        Assert.Equal(new long[] { 1, 2, 3 }, file.Metadata["types"]);
        Assert.Equal(new[] { 0.5, -1.0 }, file.Metadata["scores"]);
        var w = file.Tensors["w.weight"];
        Assert.Equal(GgmlType.Q8_0, w.Type);
        Assert.Equal(new long[] { 1, 64 }, w.Shape);
        Assert.Equal(0, w.Offset % 32);
        Assert.Equal(q8, file.Bytes(w).ToArray());
        Assert.Equal(F32Bytes(1, 2, 3), file.Bytes(file.Tensors["norm.weight"]).ToArray());
    }

    /// <summary>A header written field by field, to corrupt one field at a time.</summary>
    private sealed class Header
    {
        private readonly MemoryStream _stream = new();
        private readonly BinaryWriter _w;

        public Header(uint magic = 0x46554747, uint version = 3, ulong tensors = 0, ulong metadata = 0)
        {
            _w = new BinaryWriter(_stream);
            _w.Write(magic);
            _w.Write(version);
            _w.Write(tensors);
            _w.Write(metadata);
        }

        public Header String(string s, ulong? claimed = null)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            _w.Write(claimed ?? (ulong)bytes.Length);
            _w.Write(bytes);
            return this;
        }

        public Header UInt32(uint v) { _w.Write(v); return this; }

        public Header UInt64(ulong v) { _w.Write(v); return this; }

        public Header Tensor(string name, GgmlType type, ulong offset, params ulong[] dims)
        {
            String(name).UInt32((uint)dims.Length);
            foreach (var d in dims) UInt64(d);
            return UInt32((uint)type).UInt64(offset);
        }

        public Header Bytes(int count) { _w.Write(new byte[count]); return this; }

        public byte[] ToArray() => _stream.ToArray();
    }

    private string Refused(byte[] bytes)
    {
        File.WriteAllBytes(_path, bytes);
        var e = Assert.Throws<CheckpointException>(() => GgufFile.Open(_path).Dispose());
        Assert.StartsWith(_path, e.Message);
        Assert.DoesNotContain("\n", e.Message);
        return e.Message;
    }

    [Fact]
    public void AFileThatIsNotGguf_IsRefused() =>
        Assert.Contains("not a GGUF file", Refused(new Header(magic: 0x12345678).ToArray()));

    [Fact]
    public void VersionOne_IsRefused_NamingTheVersionsRead() =>
        Assert.Contains("version 1 is not supported (versions 2 and 3", Refused(new Header(version: 1).ToArray()));

    [Fact]
    public void ATensorCountBeyondWhatTheFileHolds_IsRefused_BeforeAnythingIsAllocated() =>
        Assert.Contains("tensor count is 1152921504606846976", Refused(new Header(tensors: 1UL << 60).ToArray()));

    [Fact]
    public void AStringLongerThanTheFile_IsRefused() =>
        Assert.Contains("claims 4000000000 bytes", Refused(new Header(metadata: 1).String("key", claimed: 4_000_000_000).Bytes(64).ToArray()));

    [Fact]
    public void AHeaderCutShort_IsRefused() =>
        Assert.Contains("metadata \"general.architecture\" claims 5 bytes, more than the file has left", Refused(new Header(metadata: 1).String("general.architecture").UInt32(8).UInt64(5).ToArray()));

    [Fact]
    public void AHeaderCutInsideANumber_IsRefusedAsTruncated() =>
        Assert.Contains("truncated", Refused(new Header(tensors: 1).Tensor("w", GgmlType.F32, 0, 4).ToArray()[..^6]));

    [Fact]
    public void AnArrayOfMoreElementsThanTheFileHolds_IsRefused() =>
        Assert.Contains("element count", Refused(new Header(metadata: 1).String("tokens").UInt32(9).UInt32(8).UInt64(1UL << 50).ToArray()));

    [Fact]
    public void AnUnknownValueType_IsRefused() =>
        Assert.Contains("value type 77", Refused(new Header(metadata: 1).String("k").UInt32(77).Bytes(16).ToArray()));

    [Fact]
    public void ARepeatedMetadataKey_IsRefused() =>
        Assert.Contains("appears twice", Refused(new Header(metadata: 2).String("k").UInt32(4).UInt32(1).String("k").UInt32(4).UInt32(2).Bytes(8).ToArray()));

    [Fact]
    public void TensorDataPastTheEndOfTheFile_IsRefused() =>
        Assert.Contains("needs bytes [0, 4096)", Refused(new Header(tensors: 1).Tensor("w", GgmlType.F32, 0, 32, 32).Bytes(64).ToArray()));

    [Fact]
    public void OverlappingTensors_AreRefused() =>
        Assert.Contains("overlaps", Refused(new Header(tensors: 2).Tensor("a", GgmlType.F32, 0, 16).Tensor("b", GgmlType.F32, 32, 16).Bytes(256).ToArray()));

    [Fact]
    public void AMisalignedTensor_IsRefused() =>
        Assert.Contains("not a multiple of the alignment 32", Refused(new Header(tensors: 1).Tensor("a", GgmlType.F32, 4, 4).Bytes(128).ToArray()));

    [Fact]
    public void RowsThatSplitABlock_AreRefused() =>
        Assert.Contains("not a whole number of its 32-value blocks", Refused(new Header(tensors: 1).Tensor("a", GgmlType.Q8_0, 0, 48, 2).Bytes(256).ToArray()));

    [Fact]
    public void AnUnknownTensorType_IsRefused() =>
        Assert.Contains("ggml type 99", Refused(new Header(tensors: 1).Tensor("a", (GgmlType)99, 0, 4).Bytes(64).ToArray()));

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void ATensorWithNoneOrMoreThanFourDimensions_IsRefused(int dims) =>
        Assert.Contains($"{dims} dimensions", Refused(new Header(tensors: 1).Tensor("a", GgmlType.F32, 0, Enumerable.Repeat(2UL, dims).ToArray()).Bytes(256).ToArray()));

    [Fact]
    public void AnAlignmentThatIsNotAPowerOfTwo_IsRefused() =>
        Assert.Contains("general.alignment is 24", Refused(new Header(metadata: 1).String("general.alignment").UInt32(4).UInt32(24).ToArray()));
}
