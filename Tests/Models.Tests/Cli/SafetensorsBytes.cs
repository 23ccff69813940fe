using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Cli;

/// <summary>
/// A .safetensors file split into its JSON header (as written, padding included) and its data section (byte for byte),
/// so a test can corrupt the header alone — a changed offset, dtype or length — and keep the data as it was.
/// </summary>
internal sealed record SafetensorsBytes(byte[] Header, byte[] Data)
{
    public static SafetensorsBytes Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        int headerLength = checked((int)BinaryPrimitives.ReadInt64LittleEndian(file));
        return new SafetensorsBytes(file[8..(8 + headerLength)], file[(8 + headerLength)..]);
    }

    public JsonObject HeaderJson() => JsonNode.Parse(Header)!.AsObject();

    /// <summary>This file with <paramref name="header"/> as its header, padded with spaces to 8 bytes as the reference writer does.</summary>
    public SafetensorsBytes WithHeader(JsonObject header) => WithHeaderText(header.ToJsonString());

    /// <summary>This file with <paramref name="json"/> as its header text, written as is (a key twice, say), padded.</summary>
    public SafetensorsBytes WithHeaderText(string json) => WithHeaderBytes(Encoding.UTF8.GetBytes(json));

    private SafetensorsBytes WithHeaderBytes(byte[] json)
    {
        var padded = new byte[(json.Length + 7) / 8 * 8];
        Array.Fill(padded, (byte)' ');
        json.CopyTo(padded, 0);
        return this with { Header = padded };
    }

    /// <summary>The file's bytes; <paramref name="headerLength"/> replaces the true header length (a corrupt one).</summary>
    public byte[] ToFile(long? headerLength = null)
    {
        var file = new byte[8 + Header.Length + Data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(file, headerLength ?? Header.Length);
        Header.CopyTo(file, 8);
        Data.CopyTo(file, 8 + Header.Length);
        return file;
    }

    /// <summary>Rewrites the file at <paramref name="path"/> with <paramref name="edit"/> applied to its header.</summary>
    public static void EditHeader(string path, Action<JsonObject> edit)
    {
        var bytes = Read(path);
        var header = bytes.HeaderJson();
        edit(header);
        File.WriteAllBytes(path, bytes.WithHeader(header).ToFile());
    }
}
