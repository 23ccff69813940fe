using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Models.Tests.Cli;

/// <summary>One mutated checkpoint: what was done (enough to redo it by hand) and the two files' bytes.</summary>
internal sealed record MutatedCheckpoint(string Description, byte[] Config, byte[] Safetensors);

/// <summary>
/// Seeded random mutations of a checkpoint's config.json and of its model.safetensors header (never the weights' data:
/// flipped weight bytes are valid floats, only their logits differ). Field replacements draw from boundary values
/// (0, -1, 2^31-1, 2^63, 1e308, 1e400, "NaN", "", null, nested objects, a 100,000-character string), byte edits
/// from bytes that matter to a JSON parser. The same seed gives the same mutation.
/// </summary>
internal sealed class CheckpointMutator(Random random)
{
    /// <summary>JSON text of values that sit on a boundary of some check (int range, double range, type, size).</summary>
    private static readonly string[] BoundaryValues =
    [
        "0", "-1", "1", "2", "3", "7", "65536", "2147483647", "2147483648", "-2147483648", "4294967296", "9223372036854775807",
        "9223372036854775808", "18446744073709551616", "1e8", "6e7", "1.5", "-0.0", "1e-45", "1e308", "-1e308", "1e400", "9007199254740993",
        "\"NaN\"", "\"Infinity\"", "\"64\"", "\"\"", "null", "true", "false", "{}", "[]", "[64]", "{\"a\":{\"b\":[1,{\"c\":null}]}}",
        "\"llama\\u001b[31m\"", "\"gpt2\\n\"", "\"" + new string('x', 100_000) + "\"",
    ];

    /// <summary>
    /// Config values only (written as raw text, never through a JsonNode, which cannot hold them): lone surrogate escapes,
    /// valid JSON that makes no .NET string (issue 28).
    /// </summary>
    private static readonly string[] ConfigValues = [.. BoundaryValues, "\"\\ud800\"", "\"llama\\udc00\"", "[\"\\udfff\"]"];

    private static readonly string[] DTypes = ["F32", "F16", "BF16", "I32", "F64", "I64", "U8", "BOOL", "F8_E4M3", "", "f32", "F32 ", "X\u001b"];

    /// <summary>Bytes a JSON parser cares about, and a few it must refuse.</summary>
    private static readonly byte[] InterestingBytes = "{}[]\",:\\0123456789-+.eE ntfu"u8.ToArray().Concat(new byte[] { 0x00, 0x0a, 0x1b, 0x7f, 0x80, 0xc3, 0xff }).ToArray();

    public MutatedCheckpoint Mutate(byte[] config, SafetensorsBytes model)
    {
        int kind = random.Next(100);
        return kind switch
        {
            < 30 => ReplaceConfigFields(config, model),
            < 42 => new("config.json bytes: " + EditBytes(config, out var edited), edited, model.ToFile()),
            < 67 => MutateHeaderEntry(config, model),
            < 85 => MutateHeaderBytes(config, model),
            < 91 => MutateHeaderLength(config, model),
            < 96 => PoisonWeight(config, model),
            _ => ResizeFile(config, model),
        };
    }

    private MutatedCheckpoint ReplaceConfigFields(byte[] config, SafetensorsBytes model)
    {
        var json = JsonNode.Parse(config)!.AsObject();
        var keys = json.Select(p => p.Key).Concat(["head_dim", "n_inner", "num_key_value_heads", "no_such_key"]).Distinct().ToArray();
        var replaced = new Dictionary<string, string>();
        int count = 1 + (random.Next(4) == 0 ? random.Next(1, 3) : 0);
        for (int i = 0; i < count; i++)
        {
            string key = keys[random.Next(keys.Length)];
            replaced[key] = random.Next(4) == 0 && json[key] is JsonValue v && v.TryGetValue(out long original)
                ? Near(original)
                : ConfigValues[random.Next(ConfigValues.Length)];
        }
        // Values go in as raw JSON text (1e400 and 2^64 have no JsonNode form): placeholders, then replaced.
        foreach (var key in replaced.Keys) json[key] = $"__fuzz_{key}__";
        string text = json.ToJsonString();
        foreach (var (key, value) in replaced) text = text.Replace($"\"__fuzz_{key}__\"", value);
        string shown = string.Join(", ", replaced.Select(r => $"\"{r.Key}\" = {Shown(r.Value)}"));
        return new($"config.json: {shown}", Encoding.UTF8.GetBytes(text), model.ToFile());
    }

    /// <summary>A value near an original one: off by one, doubled, halved, negated.</summary>
    private string Near(long original) => (random.Next(5) switch
    {
        0 => original + 1,
        1 => original - 1,
        2 => original * 2,
        3 => original / 2,
        _ => -original,
    }).ToString(CultureInfo.InvariantCulture);

    private MutatedCheckpoint MutateHeaderEntry(byte[] config, SafetensorsBytes model)
    {
        var header = model.HeaderJson();
        var names = header.Select(p => p.Key).ToArray();
        string name = names[random.Next(names.Length)];
        string description;
        string? duplicate = null;
        if (header[name] is not JsonObject entry)
        {
            header[name] = JsonNode.Parse(BoundaryValues[random.Next(BoundaryValues.Length - 1)]);
            description = $"entry \"{name}\" replaced";
        }
        else
        {
            switch (random.Next(6))
            {
                case 0:
                    string dtype = DTypes[random.Next(DTypes.Length)];
                    entry["dtype"] = dtype;
                    description = $"\"{name}\" dtype = \"{dtype}\"";
                    break;
                case 1:
                    description = $"\"{name}\" shape: {EditNumbers(entry, "shape")}";
                    break;
                case 2:
                    description = $"\"{name}\" data_offsets: {EditNumbers(entry, "data_offsets")}";
                    break;
                case 3:
                    string newName = random.Next(3) switch
                    {
                        0 => name + "\n",
                        1 => name[..^1],
                        _ => "\u001b[2J" + name,
                    };
                    header.Remove(name);
                    header[newName] = entry;
                    description = $"\"{name}\" renamed \"{Shown(newName)}\"";
                    break;
                case 4:
                    header.Remove(name);
                    description = $"\"{name}\" removed";
                    break;
                default:
                    // JSON allows a key twice: the copy is written as raw text after the original.
                    duplicate = $",\"{name}\":{entry.ToJsonString()}";
                    description = $"\"{name}\" written twice";
                    break;
            }
        }
        var mutated = model.WithHeader(header);
        if (duplicate is not null)
        {
            string text = Encoding.UTF8.GetString(mutated.Header).TrimEnd();
            mutated = mutated.WithHeaderText(text[..^1] + duplicate + "}");
        }
        return new($"model.safetensors header: {description}", config, mutated.ToFile());
    }

    /// <summary>Replaces, adds or drops one number of an array field (shape, data_offsets), or replaces the field.</summary>
    private string EditNumbers(JsonObject entry, string field)
    {
        if (entry[field] is not JsonArray numbers || numbers.Count == 0 || random.Next(8) == 0)
        {
            string value = BoundaryValues[random.Next(BoundaryValues.Length - 1)];
            entry[field] = JsonNode.Parse(value);
            return $"= {value}";
        }
        int i = random.Next(numbers.Count);
        long old = numbers[i] is JsonValue v && v.TryGetValue(out long n) ? n : 0;
        switch (random.Next(4))
        {
            case 0:
                numbers.Add(random.Next(3));
                return "one more number";
            case 1:
                numbers.RemoveAt(i);
                return $"number {i} removed";
            case 2:
                long near = old + random.Next(-8, 9);
                numbers[i] = near;
                return $"[{i}] = {near}";
            default:
                string boundary = BoundaryValues[random.Next(13)];
                numbers[i] = JsonNode.Parse(boundary);
                return $"[{i}] = {boundary}";
        }
    }

    private MutatedCheckpoint MutateHeaderBytes(byte[] config, SafetensorsBytes model)
    {
        string edits = EditBytes(model.Header, out var header);
        bool keepLength = random.Next(4) == 0;
        var mutated = model with { Header = header };
        return new($"model.safetensors header bytes: {edits}{(keepLength ? ", header length unchanged" : "")}", config,
            mutated.ToFile(keepLength ? model.Header.Length : null));
    }

    private MutatedCheckpoint MutateHeaderLength(byte[] config, SafetensorsBytes model)
    {
        long length = model.Header.Length;
        long[] candidates = [length + 1, length - 1, length + 8, length - 8, 0, -1, 7, long.MaxValue, long.MinValue, length + model.Data.Length, 100L << 20];
        long value = candidates[random.Next(candidates.Length)];
        return new($"model.safetensors header length = {value} (true {length})", config, model.ToFile(value));
    }

    /// <summary>
    /// Four bytes of the weights' data overwritten at a 4-byte boundary with a pattern that is not finite as F32 (a NaN,
    /// an infinity), as two BF16 values or as two F16 values (issue 28): the load must refuse the tensor, naming it, or,
    /// where the pattern is finite in the tensor's dtype, give finite logits.
    /// </summary>
    private MutatedCheckpoint PoisonWeight(byte[] config, SafetensorsBytes model)
    {
        uint[] patterns = [0x7FC00000, 0x7F800000, 0xFF800000, 0x7FC07FC0, 0xFF80FF80, 0x7C007E00];
        uint pattern = patterns[random.Next(patterns.Length)];
        int at = random.Next(Math.Max(1, model.Data.Length / 4)) * 4;
        if (model.Data.Length < at + 4) return ResizeFile(config, model);
        byte[] data = model.Data.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), pattern);
        return new($"model.safetensors data bytes [{at}, {at + 4}) = 0x{pattern:x8}", config, (model with { Data = data }).ToFile());
    }

    private MutatedCheckpoint ResizeFile(byte[] config, SafetensorsBytes model)
    {
        byte[] file = model.ToFile();
        if (random.Next(3) == 0)
        {
            int extra = random.Next(1, 64);
            return new($"model.safetensors with {extra} bytes appended", config, file.Concat(new byte[extra]).ToArray());
        }
        int length = random.Next(file.Length);
        return new($"model.safetensors truncated to {length} of {file.Length} bytes", config, file[..length]);
    }

    /// <summary>1 to 4 byte flips, insertions, deletions or duplicated runs; returns what was done.</summary>
    private string EditBytes(byte[] original, out byte[] edited)
    {
        var bytes = original.ToList();
        var done = new List<string>();
        for (int n = 1 + random.Next(4); n > 0 && bytes.Count > 0; n--)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0:
                    int bit = random.Next(8);
                    bytes[at] ^= (byte)(1 << bit);
                    done.Add($"bit {bit} of byte {at} flipped");
                    break;
                case 1:
                    byte inserted = InterestingBytes[random.Next(InterestingBytes.Length)];
                    bytes.Insert(at, inserted);
                    done.Add($"0x{inserted:x2} inserted at {at}");
                    break;
                case 2:
                    bytes.RemoveAt(at);
                    done.Add($"byte {at} deleted");
                    break;
                default:
                    int length = Math.Min(random.Next(1, 16), bytes.Count - at);
                    bytes.InsertRange(at, bytes.GetRange(at, length));
                    done.Add($"bytes [{at}, {at + length}) repeated");
                    break;
            }
        }
        edited = bytes.ToArray();
        return string.Join(", ", done);
    }

    private static string Shown(string value) =>
        value.Length > 40 ? $"{value[..20]}... ({value.Length} characters)" : value.Replace("\n", "\\n").Replace("\u001b", "\\u001b");
}
