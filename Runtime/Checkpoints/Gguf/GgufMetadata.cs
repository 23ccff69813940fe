namespace Tessera.Checkpoints;

/// <summary>Typed reads of a GGUF file's metadata, each failure one error naming the key.</summary>
internal sealed class GgufMetadata(GgufFile file)
{
    public string Path => file.Path;

    public bool Has(string key) => file.Metadata.ContainsKey(key);

    public string? String(string key) => file.Metadata.TryGetValue(key, out var v) ? v as string ?? throw Wrong(key, "a string", v) : null;

    public long? Integer(string key) => file.Metadata.TryGetValue(key, out var v) ? v switch
    {
        long l => l,
        // Some writers store a count as a float; accept it when it is whole.
        double d when d == Math.Floor(d) && Math.Abs(d) < 1L << 53 => (long)d,
        long[] => throw Wrong(key, "one number (a value per layer is not supported)", v),
        _ => throw Wrong(key, "an integer", v),
    } : null;

    public long RequireInteger(string key) => Integer(key) ?? throw Missing(key);

    public double? Real(string key) => file.Metadata.TryGetValue(key, out var v) ? v switch
    {
        double d => d,
        long l => l,
        _ => throw Wrong(key, "a number", v),
    } : null;

    public double RequireReal(string key) => Real(key) ?? throw Missing(key);

    public bool? Bool(string key) => file.Metadata.TryGetValue(key, out var v) ? v as bool? ?? throw Wrong(key, "a bool", v) : null;

    public T[]? Array<T>(string key, string what) => file.Metadata.TryGetValue(key, out var v) ? v as T[] ?? throw Wrong(key, what, v) : null;

    public CheckpointException Missing(string key) =>
        new($"{file.Path}: the GGUF metadata has no \"{key}\", which the model needs.");

    private CheckpointException Wrong(string key, string expected, object value) =>
        new($"{file.Path}: GGUF metadata \"{key}\" should be {expected}, but is {Describe(value)}.");

    private static string Describe(object value) => value switch
    {
        string s => "the string " + FileText.Quoted(s),
        System.Array a => $"an array of {a.Length}",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.GetType().Name,
    };
}
