using System.Text;
using Tessera.Checkpoints;

namespace Tessera.Runtime.Tests.Checkpoints;

/// <summary>Corrupt files: each must fail on open with a CheckpointException that names the file (and the tensor, when one is at fault).</summary>
public sealed class SafetensorsFileTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private string PathOf => _folder.File("model.safetensors");

    private CheckpointException OpenFails()
    {
        var e = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(PathOf).Dispose());
        Assert.Contains(PathOf, e.Message);
        return e;
    }

    [Fact]
    public void Open_ListsEntries_WithDTypeShapeAndOffsets()
    {
        SafetensorsWriter.Write(PathOf, TensorBytes.F32("a", [2, 3], new float[6]), TensorBytes.BF16("b", [4], new float[4]));
        using var file = SafetensorsFile.Open(PathOf);
        Assert.Equal(["a", "b"], file.Entries.Keys.Order());
        var b = file.Entries["b"];
        Assert.Equal(("BF16", 24L, 32L, "[4]"), (b.DType, b.Begin, b.End, b.ShapeText));
    }

    [Fact]
    public void TruncatedFile_NamesTheTensorWhoseDataIsCut()
    {
        var (header, data) = SafetensorsWriter.Header(TensorBytes.F32("a", [2], [1, 2]), TensorBytes.F32("cut", [4], [1, 2, 3, 4]));
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes(header), data[..^5]);
        Assert.Contains("\"cut\"", OpenFails().Message);
    }

    [Fact]
    public void FileShorterThanTheLengthField_IsRejected()
    {
        File.WriteAllBytes(PathOf, [1, 2, 3]);
        OpenFails();
    }

    [Fact]
    public void HeaderLengthLargerThanTheFile_IsRejected()
    {
        var (header, data) = SafetensorsWriter.Header(TensorBytes.F32("a", [2], [1, 2]));
        var bytes = Encoding.UTF8.GetBytes(header);
        SafetensorsWriter.WriteRaw(PathOf, bytes, data, declaredHeaderLength: bytes.Length + data.Length + 1);
        Assert.Contains("header length", OpenFails().Message);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-5L)]
    [InlineData(long.MaxValue)]
    public void NonsenseHeaderLength_IsRejected(long declared)
    {
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes("{}"), [], declaredHeaderLength: declared);
        OpenFails();
    }

    [Theory]
    [InlineData("{\"a\": {\"dtype\": \"F32\", ")]
    [InlineData("[1, 2]")]
    [InlineData("\"text\"")]
    public void InvalidJsonHeader_IsRejected(string header)
    {
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes(header), new byte[8]);
        OpenFails();
    }

    [Theory]
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}}""")]      // past the end
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]}}""")]      // before the start
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}""")]       // reversed
    [InlineData("""{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}""")]       // size does not match the shape
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}""")]          // one offset
    [InlineData("""{"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}}""")]        // unknown dtype
    [InlineData("""{"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}""")]      // negative dimension
    [InlineData("""{"w": {"dtype": "F32", "shape": "2", "data_offsets": [0, 8]}}""")]       // shape not a list
    [InlineData("""{"w": {"dtype": "F32", "shape": [2]}}""")]                                // no offsets
    [InlineData("""{"w": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}}""")]     // fractional dimension
    [InlineData("""{"w": 7}""")]                                                             // entry not an object
    [InlineData("""{"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}""")] // element count overflows
    [InlineData("""{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""")] // twice
    public void BadEntry_IsRejected_NamingTheTensor(string header)
    {
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes(header), new byte[8]);
        Assert.Contains("\"w\"", OpenFails().Message);
    }

    [Fact]
    public void MissingFile_IsReported()
    {
        Assert.Contains(PathOf, Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(PathOf)).Message);
    }

    [Fact]
    public void HeaderWithTrailingSpaces_IsAccepted()
    {
        // The reference writer pads the header with spaces to an 8-byte boundary.
        var (header, data) = SafetensorsWriter.Header(TensorBytes.F32("a", [2], [1, 2]));
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes(header + "     "), data);
        using var file = SafetensorsFile.Open(PathOf);
        var result = new float[2];
        file.ReadF32(file.Entries["a"], 0, 1, 0, 2, result);
        Assert.Equal([1f, 2], result);
    }

    [Fact]
    public void HeaderLengthOneByteShort_IsRejected_InsteadOfReadingEveryTensorShiftedByAByte()
    {
        // The padding space that ends the header now counts as data: the JSON still parses, every offset is off by one.
        var (header, data) = SafetensorsWriter.Header(TensorBytes.F32("a", [2], [1, 2]));
        var bytes = Encoding.UTF8.GetBytes(header + " ");
        SafetensorsWriter.WriteRaw(PathOf, bytes, data, declaredHeaderLength: bytes.Length - 1);
        Assert.Contains("the tensors end at byte 8 of a 9-byte data section", OpenFails().Message);
    }

    [Theory]
    [InlineData("""{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}""", 8, "overlaps")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]}}""", 12, "belong to no tensor")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}""", 6, "bytes [0, 2)")]
    [InlineData("""{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}""", 8, "end at byte 4 of a 8-byte data section")]
    public void DataNotTiledExactlyByTheTensors_IsRejected(string header, int dataBytes, string why)
    {
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes(header), new byte[dataBytes]);
        Assert.Contains(why, OpenFails().Message);
    }

    [Fact]
    public void ATensorNameThatSpellsALoneSurrogate_IsRejected()
    {
        SafetensorsWriter.WriteRaw(PathOf, Encoding.UTF8.GetBytes("""{"w\udc00": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"""), new byte[8]);
        Assert.Contains("a tensor name is not valid Unicode", OpenFails().Message);
    }

    [Fact]
    public void ATensorNameWithBytesThatAreNotUtf8_IsRejected()
    {
        var header = Encoding.UTF8.GetBytes("""{"wX": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}""");
        header[3] = 0xFF;
        SafetensorsWriter.WriteRaw(PathOf, header, new byte[8]);
        OpenFails();
    }
}
