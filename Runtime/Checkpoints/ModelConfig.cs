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

    /// <summary>
    /// For the text part of a multimodal checkpoint (<see cref="LoadModel"/>): the prefixes its tensors may carry in
    /// place of the text model's own ("language_model.model." for "model."). Empty for a text model.
    /// </summary>
    public IReadOnlyList<(string Own, string[] Stored)> TensorPrefixes { get; private init; } = [];

    /// <summary>Multimodal wrappers whose text_config leaves out its model_type, and the text model's.</summary>
    private static readonly Dictionary<string, string> TextModelTypes = new() { ["gemma3"] = "gemma3_text" };

    /// <summary>
    /// The config of the model an engine runs: config.json itself, or, for a multimodal checkpoint (a gemma3 config
    /// whose text part is nested in "text_config"), the text part: its values, its model_type (given, or the
    /// wrapper's text model), and the prefixes its tensors carry in the checkpoint ("language_model.model.", or
    /// transformers 4.52's "model.language_model."). The vision tower is not run: text in, text out.
    /// </summary>
    public static ModelConfig LoadModel(string path)
    {
        var config = Load(path);
        if (!config._root.TryGetProperty("text_config", out var text) || text.ValueKind != JsonValueKind.Object) return config;
        string? outer = config.GetString("model_type");
        string? inner = text.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String ? config.TextOf(type, "text_config.model_type") : null;
        if (inner is null && (outer is null || !TextModelTypes.TryGetValue(outer, out inner)))
            throw new CheckpointException($"{path}: the text part of {(outer is null ? "this multimodal model" : FileText.Quoted(outer))} (\"text_config\") names no model_type, so its architecture is unknown.");
        // The text part's own keys win; the model_type is the text model's.
        var merged = new System.Text.Json.Nodes.JsonObject();
        foreach (var property in text.EnumerateObject()) merged[property.Name] = System.Text.Json.Nodes.JsonNode.Parse(property.Value.GetRawText());
        merged["model_type"] = inner;
        using var document = JsonDocument.Parse(merged.ToJsonString());
        return new ModelConfig(document.RootElement.Clone(), path + " (text_config)")
        {
            TensorPrefixes =
            [
                ("model.", ["language_model.model.", "model.language_model."]),
                ("lm_head.", ["language_model.lm_head.", "lm_head."]),
            ],
        };
    }

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: config file not found.");
        try
        {
            using var doc = JsonDocument.Parse(FileText.ReadBytes(path, FileText.Metadata));
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

    /// <summary>
    /// The first of the '|'-separated keys that is present and not null. A key may name a member of a nested object
    /// ("rope_parameters.rope_theta", as transformers 5 writes some settings).
    /// </summary>
    public bool TryGet(string keys, out JsonElement value)
    {
        foreach (var key in keys.Split('|'))
        {
            if (TryGetPath(key, out value) && value.ValueKind != JsonValueKind.Null)
                return true;
        }
        value = default;
        return false;
    }

    private bool TryGetPath(string key, out JsonElement value)
    {
        value = _root;
        foreach (var part in key.Split('.'))
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(part, out value))
            {
                value = default;
                return false;
            }
        }
        return true;
    }

    public string? GetString(string keys) => TryGet(keys, out var v) && v.ValueKind == JsonValueKind.String ? TextOf(v, keys) : null;

    /// <summary>The strings of a list ("architectures"); empty where the key is absent, null or not a list; other entries are skipped.</summary>
    public IReadOnlyList<string> GetStrings(string keys) =>
        TryGet(keys, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => TextOf(e, keys)).ToList()
            : [];

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

    /// <summary>Whether none of the keys holds a value but one is there, set to null (where null means something of its own).</summary>
    public bool IsNull(string keys) =>
        !TryGet(keys, out _) && keys.Split('|').Any(key => TryGetPath(key, out var value) && value.ValueKind == JsonValueKind.Null);

    /// <param name="whenNull">the value when the key is there and null, if that differs from <paramref name="fallback"/> (absent)</param>
    public int GetInt(string keys, string field, int? fallback = null, int? whenNull = null)
    {
        if (whenNull is { } nullValue && IsNull(keys)) return nullValue;
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i))
            return i;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
            return (int)d;
        throw Invalid(keys, field, "an integer", v);
    }

    /// <inheritdoc cref="GetInt"/>
    public float GetFloat(string keys, string field, float? fallback = null, float? whenNull = null)
    {
        if (whenNull is { } nullValue && IsNull(keys)) return nullValue;
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        if (v.ValueKind == JsonValueKind.Number)
            return (float)v.GetDouble();
        throw Invalid(keys, field, "a number", v);
    }

    /// <inheritdoc cref="GetInt"/>
    public bool GetBool(string keys, string field, bool? fallback = null, bool? whenNull = null)
    {
        if (whenNull is { } nullValue && IsNull(keys)) return nullValue;
        if (!TryGet(keys, out var v))
            return fallback ?? throw Missing(keys, field);
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(keys, field, "true or false", v),
        };
    }

    /// <summary>
    /// The RoPE scaling of a <c>rope_scaling</c> object (absent, null or of type "default": none), checked as Hugging
    /// Face's <c>rope_config_validation</c> checks it: the type is read from "rope_type" or the older "type"; linear,
    /// llama3 and yarn are implemented, any other type (dynamic, longrope, ...) is refused naming it, and a missing or
    /// unusable parameter is refused naming the key.
    /// </summary>
    public RopeScaling GetRopeScaling(string keys, string field)
    {
        if (!TryGet(keys, out var v)) return RopeScaling.None;
        if (v.ValueKind != JsonValueKind.Object) throw Invalid(keys, field, "an object (or null)", v);
        string key = keys.Split('|').First(k => TryGet(k, out _));
        string? type = null;
        foreach (var name in new[] { "rope_type", "type" })
            if (v.TryGetProperty(name, out var t) && t.ValueKind != JsonValueKind.Null)
            {
                type = t.ValueKind == JsonValueKind.String ? TextOf(t, $"{key}.{name}") : throw Invalid($"{key}.{name}", field, "a string", t);
                break;
            }
        double Number(string name, double? fallback = null, bool positive = true)
        {
            if (!v.TryGetProperty(name, out var n) || n.ValueKind == JsonValueKind.Null)
                return fallback ?? throw new CheckpointException($"{Path}: \"{key}\" of type \"{type}\" needs \"{name}\" (for {field}) but does not have it.");
            if (n.ValueKind != JsonValueKind.Number) throw Invalid($"{key}.{name}", field, "a number", n);
            double d = n.GetDouble();
            if (positive && !(d > 0 && double.IsFinite(d)))
                throw new CheckpointException($"{Path}: \"{key}.{name}\" (for {field}) must be a positive number, found {FileText.Json(n)}: the RoPE frequencies would not be finite.");
            return d;
        }
        double? Optional(string name) => v.TryGetProperty(name, out var n) && n.ValueKind != JsonValueKind.Null ? Number(name) : null;
        switch (type)
        {
            case null or "default":
                return RopeScaling.None;
            case "linear":
                return RopeScaling.Linear(Number("factor"));
            case "llama3":
                {
                    double low = Number("low_freq_factor"), high = Number("high_freq_factor");
                    if (high <= low)
                        throw new CheckpointException($"{Path}: \"{key}\" has high_freq_factor {Format(high)} not above low_freq_factor {Format(low)}: llama3 scaling blends between them.");
                    return RopeScaling.Llama3(Number("factor"), low, high, Number("original_max_position_embeddings"));
                }
            case "yarn":
                {
                    double original = Optional("original_max_position_embeddings") ?? GetInt("max_position_embeddings", field);
                    bool truncate = !v.TryGetProperty("truncate", out var t) || t.ValueKind == JsonValueKind.Null ? true
                        : t.ValueKind switch
                        {
                            JsonValueKind.True => true,
                            JsonValueKind.False => false,
                            _ => throw Invalid($"{key}.truncate", field, "true or false", t),
                        };
                    return RopeScaling.Yarn(Number("factor"), original, Optional("attention_factor"), Optional("beta_fast") ?? 32, Optional("beta_slow") ?? 1,
                        Optional("mscale"), Optional("mscale_all_dim"), truncate);
                }
            default:
                throw new CheckpointException($"{Path}: \"{key}\" has type {FileText.Quoted(type)}, which Tessera does not implement (it implements linear, llama3 and yarn); its logits would differ from the reference implementation's.");
        }
    }

    /// <summary>
    /// A per-layer value (one per layer, for <paramref name="layers"/> layers): a JSON list of that many values; with
    /// <paramref name="map"/> ("sliding_attention=true|full_attention=false") a list of strings, each one of the map's;
    /// with <paramref name="indices"/> (bools only) a list of layer indices, true at those; absent or null, the default
    /// of each layer.
    /// </summary>
    public T[] GetLayerValues<T>(string keys, string field, int layers, Func<int, T>? fallback, string? map = null, bool indices = false)
    {
        var values = new T[layers];
        if (!TryGet(keys, out var v))
        {
            if (fallback is null) throw Missing(keys, field);
            for (int i = 0; i < layers; i++) values[i] = fallback(i);
            return values;
        }
        if (v.ValueKind != JsonValueKind.Array) throw Invalid(keys, field, indices ? "a list of layer indices" : "a list with one entry per layer", v);
        var items = v.EnumerateArray().ToList();
        if (indices)
        {
            if (typeof(T) != typeof(bool)) throw new ArgumentException("Layer indices give a bool per layer.", nameof(indices));
            foreach (var item in items)
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int layer) || layer < 0 || layer >= layers)
                    throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) lists {FileText.Json(item)}, which is not a layer index below {layers}.");
                values[layer] = (T)(object)true;
            }
            return values;
        }
        if (items.Count != layers)
            throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) has {items.Count} entries, but the model has {layers} layers.");
        var entries = map?.Split('|').Select(e => e.Split('=')).ToDictionary(e => e[0], e => e[1]);
        for (int i = 0; i < layers; i++)
        {
            var item = items[i];
            if (entries is not null)
            {
                string? text = item.ValueKind == JsonValueKind.String ? TextOf(item, keys) : null;
                if (text is null || !entries.TryGetValue(text, out var literal))
                    throw new CheckpointException($"{Path}: \"{keys}\"[{i}] is {FileText.Json(item)}, but the model reads only {string.Join(" and ", entries.Keys.Select(k => "\"" + k + "\""))} there (for {field}).");
                values[i] = (T)Convert.ChangeType(literal, typeof(T), CultureInfo.InvariantCulture);
                continue;
            }
            object? value = typeof(T) == typeof(bool) ? item.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => null }
                : typeof(T) == typeof(int) ? (item.ValueKind == JsonValueKind.Number && item.TryGetInt32(out int n) ? n : null)
                : item.ValueKind == JsonValueKind.Number ? (float)item.GetDouble() : null;
            values[i] = value is T typed ? typed : throw Invalid($"{keys}[{i}]", field, typeof(T) == typeof(bool) ? "true or false" : typeof(T) == typeof(int) ? "an integer" : "a number", item);
        }
        return values;
    }

    /// <summary>For specialised engines: the checkpoint's per-layer values must be the ones the unit was compiled for.</summary>
    public void ExpectLayerValues<T>(string keys, string field, T[] compiled, Func<int, T>? fallback, string? map = null, bool indices = false)
    {
        var actual = GetLayerValues(keys, field, compiled.Length, fallback, map, indices);
        if (!actual.SequenceEqual(compiled))
            throw Mismatch(keys, field, "[" + string.Join(", ", actual.Select(Show)) + "]", "[" + string.Join(", ", compiled.Select(Show)) + "]");
        static string Show(T value) => value switch { bool b => b ? "true" : "false", float f => Format(f), _ => Convert.ToString(value, CultureInfo.InvariantCulture)! };
    }

    /// <summary>For specialised engines: the checkpoint's RoPE scaling must be the one the unit was compiled for.</summary>
    public void ExpectRopeScaling(string keys, string field, RopeScaling compiled)
    {
        var actual = GetRopeScaling(keys, field);
        if (actual != compiled) throw Mismatch(keys, field, actual.ToString(), compiled.ToString());
    }

    /// <summary>For specialised engines: the checkpoint's value must be the one the unit was compiled for.</summary>
    public void ExpectInt(string keys, string field, int compiled, int? fallback = null, int? whenNull = null)
    {
        int actual = GetInt(keys, field, fallback, whenNull);
        if (actual != compiled) throw Mismatch(keys, field, actual.ToString(CultureInfo.InvariantCulture), compiled.ToString(CultureInfo.InvariantCulture));
    }

    public void ExpectFloat(string keys, string field, float compiled, float? fallback = null, float? whenNull = null)
    {
        float actual = GetFloat(keys, field, fallback, whenNull);
        if (actual != compiled) throw Mismatch(keys, field, Format(actual), Format(compiled));
    }

    public void ExpectBool(string keys, string field, bool compiled, bool? fallback = null, bool? whenNull = null)
    {
        bool actual = GetBool(keys, field, fallback, whenNull);
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

    /// <summary>A value declared non-negative ([Config(NonNegative = true)]: a window, a cap, where 0 means none).</summary>
    public int NonNegative(int value, string keys, string field) =>
        value >= 0 ? value : throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) must be 0 or more, found {value}.");

    /// <inheritdoc cref="NonNegative(int, string, string)"/>
    public float NonNegative(float value, string keys, string field) =>
        value >= 0 && float.IsFinite(value) ? value
            : throw new CheckpointException($"{Path}: \"{keys}\" (for {field}) must be a number of 0 or more, found {Format(value)}.");

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
