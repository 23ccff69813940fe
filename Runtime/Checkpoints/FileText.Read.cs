using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Checkpoints;

/// <summary>A kind of file Tessera reads whole, and the most bytes one may hold (the README lists them under "Bad input").</summary>
/// <param name="Kind">what the file is, for the message: "metadata file", "tokenizer file", "text file"</param>
/// <param name="MaxBytes">the largest file of this kind that is read; a larger one is refused before it is read</param>
public sealed record FileLimit(string Kind, long MaxBytes);

public static partial class FileText
{
    private const long MiB = 1024 * 1024;

    /// <summary>
    /// config.json, generation_config.json, tokenizer_config.json, model.safetensors.index.json, chat templates,
    /// message lists: 16 MiB (the largest published ones, tokenizer_config.json with a chat template and a few
    /// thousand added tokens, are under 2 MiB).
    /// </summary>
    public static readonly FileLimit Metadata = new("metadata file", 16 * MiB);

    /// <summary>tokenizer.json, vocab.json, merges.txt: 256 MiB (a 256k-token tokenizer.json is about 35 MiB).</summary>
    public static readonly FileLimit Tokenizer = new("tokenizer file", 256 * MiB);

    /// <summary>Text given to encode or to train a tokenizer on: 256 MiB (held in memory as UTF-16, twice that).</summary>
    public static readonly FileLimit Text = new("text file", 256 * MiB);

    /// <summary>
    /// The bytes of a regular file of at most <paramref name="limit"/>'s size. A FIFO, a device (/dev/zero,
    /// /dev/stdin), a socket or a directory is refused before it is opened, so that no read blocks forever or grows
    /// without end; a file larger than the limit is refused before it is read. THE way Tessera reads a whole file.
    /// </summary>
    /// <exception cref="FileNotFoundException">the file does not exist (callers say what was expected there)</exception>
    /// <exception cref="CheckpointException">the file is not a regular file, or is larger than the limit</exception>
    public static byte[] ReadBytes(string path, FileLimit limit)
    {
        RequireRegularFile(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        long length = stream.Length;
        if (length > limit.MaxBytes) throw TooLarge(path, limit, $"{length:N0} bytes,");
        // The file may grow while it is read: read at most one byte past the limit, and refuse it then.
        var buffer = new byte[length];
        int read = 0;
        while (read < buffer.Length && stream.Read(buffer, read, buffer.Length - read) is var n and > 0) read += n;
        if (read < buffer.Length) return buffer[..read];
        var rest = new MemoryStream();
        var chunk = new byte[64 * 1024];
        while (stream.Read(chunk, 0, chunk.Length) is var m and > 0)
        {
            rest.Write(chunk, 0, m);
            if (length + rest.Length > limit.MaxBytes) throw TooLarge(path, limit, "it grew while read, to");
        }
        return rest.Length == 0 ? buffer : [.. buffer, .. rest.ToArray()];
    }

    /// <summary>A regular file's text as UTF-8 (a byte-order mark dropped; invalid bytes as U+FFFD), as <see cref="ReadBytes"/> bounds it.</summary>
    public static string ReadText(string path, FileLimit limit)
    {
        var bytes = ReadBytes(path, limit);
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8)) span = span[3..];
        return Encoding.UTF8.GetString(span);
    }

    /// <summary>
    /// A JSON file as a <see cref="System.Text.Json.Nodes.JsonNode"/>, read as <see cref="ReadBytes"/> bounds it, with
    /// every string and property name checked to be text: JSON allows a lone surrogate escape ("\ud800"), which
    /// JsonNode parses and then throws InvalidOperationException for wherever the string is first read.
    /// </summary>
    /// <exception cref="CheckpointException">the file is not valid JSON, or holds a string that is not valid Unicode text</exception>
    public static System.Text.Json.Nodes.JsonNode? ReadJson(string path, FileLimit limit) => ParseJson(ReadBytes(path, limit), path);

    /// <summary>
    /// JSON text as a <see cref="System.Text.Json.Nodes.JsonNode"/>, every string and property name checked to be text
    /// (see <see cref="ReadJson"/>); <paramref name="source"/> names where it came from in the error.
    /// </summary>
    /// <exception cref="CheckpointException">the text is not valid JSON, or holds a string that is not valid Unicode text</exception>
    public static System.Text.Json.Nodes.JsonNode? ParseJson(ReadOnlySpan<byte> bytes, string source)
    {
        try
        {
            var reader = new System.Text.Json.Utf8JsonReader(bytes);
            while (reader.Read())
            {
                if (reader.TokenType is not (System.Text.Json.JsonTokenType.String or System.Text.Json.JsonTokenType.PropertyName)) continue;
                try
                {
                    reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw new CheckpointException($"{source}: the string at byte {reader.TokenStartIndex} is not valid Unicode text (a lone surrogate escape, or bytes that are not UTF-8).");
                }
            }
            return System.Text.Json.Nodes.JsonNode.Parse(bytes);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new CheckpointException($"{source}: not valid JSON: {Escaped(e.Message)}", e);
        }
    }

    /// <summary>
    /// Refuses a path that exists and is not a regular file (after symbolic links): a FIFO, a device, a socket, a
    /// directory. Files that are mapped rather than read (safetensors, GGUF) and every output go through here.
    /// </summary>
    /// <exception cref="CheckpointException">the path names something other than a regular file</exception>
    public static void RequireRegularFile(string path)
    {
        if (NotRegular(path) is { } what)
            throw new CheckpointException($"{path} is {what}, not a regular file: Tessera reads and writes only regular files.");
    }

    /// <summary>What the path names when it exists and is not a regular file ("a FIFO", "a character device"); null for a regular file or no file.</summary>
    internal static string? NotRegular(string path)
    {
        if (OperatingSystem.IsWindows()) return Directory.Exists(path) ? "a directory" : null;
        var status = new byte[256]; // .NET's own FileStatus (pal_io.h), the same on every Unix and architecture
        if (Stat(path, status) != 0) return null; // no such file, or no access: opening it says which
        return (BitConverter.ToInt32(status, 4) & 0xF000) switch // Mode, after Flags
        {
            0x8000 => null,
            0x1000 => "a FIFO",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0x4000 => "a directory",
            0xC000 => "a socket",
            _ => "a special file",
        };
    }

    /// <summary>stat(2) through the runtime's own native shim, which every .NET process on Unix has loaded.</summary>
    [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat")]
    private static extern int Stat([MarshalAs(UnmanagedType.LPUTF8Str)] string path, byte[] output);

    private static CheckpointException TooLarge(string path, FileLimit limit, string size) =>
        new($"{path}: {size} more than a {limit.Kind} may hold ({limit.MaxBytes / MiB} MiB): is this the right file?");
}
