using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Tessera.Generator.Diagnostics;
using Tessera.Generator.Emit;
using Tessera.Generator.IR;

namespace Tessera.Generator.FrontEnd;

/// <summary>
/// Binds a model's [Config] fields to the values of a config.json found among AdditionalFiles, at build time,
/// reporting a missing file (TSR0004), malformed JSON (TSR0005), a missing key (TSR0006) or an unusable value (TSR0011)
/// at the [Compile] attribute.
/// </summary>
internal static class ConfigBinder
{
    public static Dictionary<string, object>? Bind(ModelInfo model, CompileUnitInfo unit, IEnumerable<ConfigFileInfo> files, List<DiagnosticInfo> diagnostics)
    {
        if (unit.ConfigPath is null) return null;
        var file = Find(unit.ConfigPath, files);
        if (file is null)
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ConfigFileNotFound, unit.ConfigLocation, unit.ConfigPath));
            return null;
        }
        if (!JsonReader.TryParseObject(file.Text, out var json, out string? error))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ConfigFileMalformed, unit.ConfigLocation, unit.ConfigPath, error!));
            return null;
        }

        var values = new Dictionary<string, object>();
        int errors = diagnostics.Count;
        var floats = new HashSet<string>(model.Config.Where(f => f.Kind == ConfigKind.Float).Select(f => f.Name));
        foreach (var field in SizeBinding.InDependencyOrder(model.Config, model.Root.Layers?.Count))
        {
            var (present, raw) = Lookup(json!, field.Keys);
            object? value;
            string? problem = null;
            if (field.Kind == ConfigKind.RopeScaling)
            {
                // The runtime reads it (one parser for both engines): the unit keeps the JSON it was compiled with.
                var mini = new Dictionary<string, object?>(StringComparer.Ordinal) { [field.Keys.Split('|')[0]] = raw };
                if (json!.TryGetValue("max_position_embeddings", out var context)) mini["max_position_embeddings"] = context;
                value = JsonReader.Write(mini);
            }
            else if (field.PerLayer)
            {
                int count = model.Root.Layers is { } l && values.TryGetValue(l.Count, out var n) && n is double d ? (int)d : 0;
                value = raw is null ? PerLayerDefault(field, values, count, floats) : PerLayer(field, raw, count, out problem);
            }
            else if (raw is null)
            {
                value = present && field.WhenNull is not null ? FromDefault(field, field.WhenNull, values, floats) : field.Default is null ? null : FromDefault(field, field.Default, values, floats);
            }
            else
            {
                value = Convert(field, raw);
            }
            if (value is null)
            {
                diagnostics.Add(raw is null && problem is null
                    ? DiagnosticInfo.Create(DiagnosticDescriptors.ConfigKeyMissing, unit.ConfigLocation, unit.ConfigPath, field.Keys.Replace("|", "\" or \""), model.Type.Name, field.Name)
                    : DiagnosticInfo.Create(DiagnosticDescriptors.InvalidConfigValue, unit.ConfigLocation, unit.ConfigPath, field.Keys, raw is null ? "null" : Show(raw),
                        problem ?? $"{field.Name} needs {Describe(field.Kind)}"));
                continue;
            }
            if (value is double number && !field.PerLayer && (field.IsSize || field.Positive ? number <= 0 : field.NonNegative && number < 0))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidConfigValue, unit.ConfigLocation, unit.ConfigPath, field.Keys, Show(value),
                    field.IsSize ? $"{field.Name} is a size and must be positive" : field.Positive ? $"{field.Name} must be positive" : $"{field.Name} must be 0 or more"));
                continue;
            }
            values[field.Name] = value;
        }
        return diagnostics.Count == errors ? values : null;
    }

    /// <summary>The first of the '|'-separated keys holding a value (a key may name a nested member, "a.b"), and whether one was there as null.</summary>
    private static (bool Present, object? Value) Lookup(Dictionary<string, object?> json, string keys)
    {
        bool present = false;
        foreach (var key in keys.Split('|'))
        {
            object? node = json;
            bool found = true;
            foreach (var part in key.Split('.'))
            {
                if (node is Dictionary<string, object?> obj && obj.TryGetValue(part, out var next)) node = next;
                else { found = false; break; }
            }
            if (!found) continue;
            if (node is not null) return (true, node);
            present = true;
        }
        return (present, null);
    }

    /// <summary>A per-layer field's values from its default, evaluated at each layer.</summary>
    private static object[]? PerLayerDefault(ConfigFieldInfo field, Dictionary<string, object> bound, int layers, HashSet<string> floats)
    {
        if (field.Default is null) return null;
        var values = new object[layers];
        for (int layer = 0; layer < layers; layer++)
        {
            var expression = SizeExpr.Parse(field.Default);
            double? v = expression.Evaluate(n => n == SizeExpr.LayerName ? layer : Number(bound, n), floats.Contains);
            if (v is null) return null;
            values[layer] = field.Kind == ConfigKind.Bool ? v.Value != 0 : v.Value;
        }
        return values;
    }

    /// <summary>A per-layer field's values from its JSON list (or, mapped or as indices, as the field says).</summary>
    private static object[]? PerLayer(ConfigFieldInfo field, object raw, int layers, out string? problem)
    {
        problem = null;
        if (raw is not List<object?> list)
        {
            problem = $"{field.Name} needs a list";
            return null;
        }
        var values = new object[layers];
        if (field.Indices)
        {
            for (int i = 0; i < layers; i++) values[i] = false;
            foreach (var item in list)
            {
                if (item is not double d || d != Math.Floor(d) || d < 0 || d >= layers)
                {
                    problem = $"{field.Name} lists layer indices below {layers}";
                    return null;
                }
                values[(int)d] = true;
            }
            return values;
        }
        if (list.Count != layers)
        {
            problem = $"{field.Name} needs one entry per layer ({layers})";
            return null;
        }
        var map = field.Map?.Split('|').Select(e => e.Split('=')).ToDictionary(e => e[0], e => e[1]);
        for (int i = 0; i < layers; i++)
        {
            object? item = list[i];
            if (map is not null)
            {
                if (item is not string text || !map.TryGetValue(text, out var literal))
                {
                    problem = $"{field.Name} takes {string.Join(" and ", map.Keys.Select(k => "\"" + k + "\""))}";
                    return null;
                }
                item = field.Kind == ConfigKind.Bool ? literal == "true" : double.Parse(literal, NumberStyles.Float, CultureInfo.InvariantCulture);
            }
            var value = Convert(field, item!);
            if (value is null)
            {
                problem = $"{field.Name} needs {Describe(field.Kind)} per layer";
                return null;
            }
            values[i] = value;
        }
        return values;
    }

    private static double? Number(Dictionary<string, object> bound, string name)
    {
        int bracket = name.IndexOf('[');
        if (bracket < 0) return bound.TryGetValue(name, out var v) ? v switch { double d => d, bool b => b ? 1 : 0, _ => null } : null;
        int index = int.Parse(name.Substring(bracket + 1, name.Length - bracket - 2), CultureInfo.InvariantCulture);
        return bound.TryGetValue(name.Substring(0, bracket), out var array) && array is object[] values && index < values.Length
            ? values[index] switch { double d => d, bool b => b ? 1 : 0, _ => null }
            : null;
    }

    /// <summary>The AdditionalFiles item whose path ends with the configured path (separators normalised).</summary>
    private static ConfigFileInfo? Find(string path, IEnumerable<ConfigFileInfo> files)
    {
        string wanted = Normalise(path).TrimStart('.', '/');
        return files.Where(f => Normalise(f.Path).EndsWith("/" + wanted, StringComparison.Ordinal) || Normalise(f.Path) == wanted)
            .OrderBy(f => f.Path.Length).FirstOrDefault();
    }

    private static string Normalise(string path) => path.Replace('\\', '/');

    private static object? Convert(ConfigFieldInfo field, object raw) => field.Kind switch
    {
        ConfigKind.Bool => raw as bool?,
        ConfigKind.Int => raw is double d && d == Math.Floor(d) ? d : null,
        _ => raw as double?,
    };

    /// <summary>A default (or null value): true/false for a bool, else the expression over the fields bound so far.</summary>
    private static object? FromDefault(ConfigFieldInfo field, string text, Dictionary<string, object> bound, HashSet<string> floats)
    {
        if (field.Kind == ConfigKind.Bool) return text == "true";
        return SizeExpr.Parse(text).Evaluate(n => Number(bound, n), floats.Contains);
    }

    private static string Describe(ConfigKind kind) => kind switch
    {
        ConfigKind.Int => "an integer",
        ConfigKind.Float => "a number",
        _ => "true or false",
    };

    private static string Show(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        string s => "\"" + s + "\"",
        _ => value.GetType().Name,
    };
}
