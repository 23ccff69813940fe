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
        foreach (var field in SizeBinding.InDependencyOrder(model.Config))
        {
            object? raw = field.Keys.Split('|').Select(k => json!.TryGetValue(k, out var v) ? v : null).FirstOrDefault(v => v is not null);
            object? value = raw is null ? FromDefault(field, values) : Convert(field, raw);
            if (value is null)
            {
                diagnostics.Add(raw is null
                    ? DiagnosticInfo.Create(DiagnosticDescriptors.ConfigKeyMissing, unit.ConfigLocation, unit.ConfigPath, field.Keys.Replace("|", "\" or \""), model.Type.Name, field.Name)
                    : DiagnosticInfo.Create(DiagnosticDescriptors.InvalidConfigValue, unit.ConfigLocation, unit.ConfigPath, field.Keys, Show(raw), $"{field.Name} needs {Describe(field.Kind)}"));
                continue;
            }
            if (field.Kind == ConfigKind.Int && (double)value <= 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidConfigValue, unit.ConfigLocation, unit.ConfigPath, field.Keys, Show(value), $"{field.Name} is a size and must be positive"));
                continue;
            }
            values[field.Name] = value;
        }
        return diagnostics.Count == errors ? values : null;
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

    private static object? FromDefault(ConfigFieldInfo field, Dictionary<string, object> bound)
    {
        if (field.Default is null) return null;
        if (field.Kind == ConfigKind.Bool) return field.Default == "true";
        double? value = SizeExpr.Parse(field.Default).Evaluate(n => bound.TryGetValue(n, out var v) && v is double d ? d : null);
        return value;
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
