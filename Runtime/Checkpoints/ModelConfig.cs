using System.Globalization;
using System.Text.Json;

namespace Tessera.Checkpoints;

/// <summary>A Hugging Face config.json, read once. Lookups name the field that needs the key, so a missing key says why it matters.</summary>
public sealed class ModelConfig
{
    private readonly JsonElement _root;

    private ModelConfig(JsonElement root, string path)
    {
        _root = root;
        Path = path;
    }

    public string Path { get; }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: config file not found.");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: expected a JSON object at the top level.");
            return new ModelConfig(doc.RootElement.Clone(), path);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed JSON: {FileText.Escaped(e.Message)}", e);
        }
    }

    public static ModelConfig Parse(string json, string path = "config.json")
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: expected a JSON object at the top level.");
            return new ModelConfig(doc.RootElement.Clone(), path);
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{path}: malformed JSON: {FileText.Escaped(e.Message)}", e);
        }
    }

    /// <summary>The first of the '|'-separated keys that is present and not null.</summary>
    public bool TryGet(string keys, out JsonElement value)
    {
        foreach (var key in keys.Split('|'))
        {
            if (_root.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null)
                return true;
        }
        value = default;
        return false;
    }

    public string? GetString(string keys) => TryGet(keys, out var v) && v.ValueKind == JsonValueKind.String ? TextOf(v, keys) : null;

    /// <summary>A string value as .NET text, or one clear error where there is none.</summary>
    private string TextOf(JsonElement value, string keys)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            // JSON escapes can spell a lone surrogate ("\ud800"), and the parser does not check that a string's bytes
            // are UTF-8 until it is read: neither decodes to a .NET string.
            throw new CheckpointException($"{Path}: \"{keys}\" is not valid Unicode text (a lone surrogate, or bytes that are not UTF-8).");
        }
    }

    public int GetInt(string keys, string field, int? fallback = null)
    {
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i))
            return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (int)d;
        throw Invalid(keys, field, "an integer", v);
    }

    public float GetFloat(string keys, string field, float? fallback = null)
    {
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        if (v.ValueKind == JsonValueKind.Number)
            return (float)v.GetDouble();
        throw Invalid(keys, field, "a number", v);
    }

    public bool GetBool(string keys, string field, bool? fallback = null)
    {
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(keys, field, "true or false", v),
        };
    }

    /// <summary>For specialised engines: the checkpoint's value must be the one the unit was compiled for.</summary>
    public void ExpectInt(string keys, string field, int compiled, int? fallback = null)
    {
        int actual = GetInt(keys, field, fallback);
        if (actual != compiled) throw Mismatch(keys, field, actual.ToString(CultureInfo.InvariantCulture), compiled.ToString(CultureInfo.InvariantCulture));
    }

    public void ExpectFloat(string keys, string field, float compiled, float? fallback = null)
    {
        float actual = GetFloat(keys, field, fallback);
        if (actual != compiled) throw Mismatch(keys, field, Format(actual), Format(compiled));
    }

    public void ExpectBool(string keys, string field, bool compiled, bool? fallback = null)
    {
        bool actual = GetBool(keys, field, fallback);
        if (actual != compiled) throw Mismatch(keys, field, actual ? "true" : "false", compiled ? "true" : "false");
    }

    /// <summary>Refuses a config that sets a feature the model does not implement (rope_scaling, ...): null and false count as unset.</summary>
    public void RequireUnset(string key, string model)
    {
        if (_root.TryGetProperty(key, out var value) && value.ValueKind is not (JsonValueKind.Null or JsonValueKind.False))
            throw new CheckpointException($"{Path}: \"{key}\" is {FileText.Json(value)}, which {model} does not implement yet; its logits would differ from the reference implementation's.");
    }

    /// <summary>Refuses a string setting the model does not implement (an activation, ...); an absent key is the model's default.</summary>
    public void RequireOneOf(string key, string[] implemented, string model)
    {
        if (!_root.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return;
        if (value.ValueKind != JsonValueKind.String || !implemented.Contains(TextOf(value, key)))
            throw new CheckpointException($"{Path}: \"{key}\" is {FileText.Json(value)}, but {model} implements {string.Join(" or ", implemented.Select(v => "\"" + v + "\""))}.");
    }

    /// <summary>Sizes must be positive: a zero head count would only fail later, far from its cause.</summary>
    public int Positive(int value, string keys, string field) =>
        value > 0 ? value : throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) must be positive, found {value}.");

    /// <summary>A number declared positive ([Config(Positive = true)]): zero or less (an epsilon, RoPE's base) would turn every logit into NaN.</summary>
    public float Positive(float value, string keys, string field) =>
        value > 0 && float.IsFinite(value) ? value
            : throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) must be a positive number, found {Format(value)}: the model's logits would be NaN.");

    /// <summary>
    /// A size the engine derives from config ints (Heads * HeadDim, a default of 4 * Dim), computed in 64 bits: one
    /// past int.MaxValue is refused here, before an int that wrapped around sizes an array, passes a shape check by
    /// chance or shows in a message.
    /// </summary>
    /// <param name="expression">the size as the model writes it ("Heads * HeadDim")</param>
    /// <param name="value">the size in checked 64-bit arithmetic</param>
    /// <param name="operands">the config values it is made of, for the message ("\"head_dim\" = 8, ...")</param>
    public int DerivedSize(string expression, Func<long> value, string operands)
    {
        long size;
        try
        {
            size = value();
        }
        catch (OverflowException)
        {
            size = long.MaxValue;
        }
        return size <= int.MaxValue ? (int)size
            : throw new CheckpointException($"{Path}: {expression} ({operands}) is more than {int.MaxValue}: the config's sizes are too large for any checkpoint.");
    }

    private CheckpointException Mismatch(string keys, string field, string actual, string compiled) =>
        new($"{Path}: \"{keys}\" (for {field}) is {actual}, but this engine was compiled for {compiled}. Use the shape-generic engine, or a [Compile] unit built from this config.");

    private CheckpointException Missing(string keys, string field) =>
        new($"{Path}: the model needs \"{keys.Replace("|", "\" or \"")}\" (for {field}) but the config does not have it.");

    private CheckpointException Invalid(string keys, string field, string expected, JsonElement v) =>
        new($"{Path}: \"{keys}\" (for {field}) should be {expected}, found {FileText.Json(v)}.");

    /// <summary>Formats a value for messages in the invariant culture.</summary>
    public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
