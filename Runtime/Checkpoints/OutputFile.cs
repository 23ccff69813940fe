namespace Tessera.Checkpoints;

/// <summary>
/// THE way Tessera writes a file (logits, a quantized GGUF, a trained tokenizer, an SVG): only to a new path or over a
/// regular file, never over a device, a FIFO, a socket or a directory (a temporary file renamed over /dev/null would
/// replace the device for every program on the machine); and whole or not at all: the bytes go to a temporary file
/// beside it, renamed over the path once written, so a failure leaves the path as it was.
/// </summary>
public static class OutputFile
{
    /// <summary>Refuses each path that exists and is not a regular file; call it before long work that ends in writing them.</summary>
    /// <exception cref="CheckpointException">a path names a device, a FIFO, a socket or a directory</exception>
    public static void Check(params ReadOnlySpan<string> paths)
    {
        foreach (var path in paths)
            if (FileText.NotRegular(path) is { } what)
                throw new CheckpointException($"{path} is {what}, not a regular file: Tessera writes only to a regular file or a new path.");
    }

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, through a temporary file renamed over it.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        Check(path);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
                write(stream);
            Check(path); // replaced by something else while it was written: leave that alone
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 without a byte-order mark, as <see cref="Write(string, Action{Stream})"/> does.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false));
            writer.Write(text);
        });
}
