using System.Text.Json.Nodes;
using Tessera.Checkpoints;

namespace Tessera.Models.Tests.Families;

/// <summary>
/// A fixture written again with its config and weights edited: the shapes and options no fixture has (a yarn RoPE, dense
/// layers among sparse ones, a nested multimodal config), on weights whose outputs other tests pin down.
/// </summary>
public static class RewrittenFixture
{
    /// <summary>A copy of <paramref name="fixture"/> under <paramref name="root"/>, edited: the weights as name -> (shape, F32 values).</summary>
    public static string Write(string root, string fixture, Action<JsonObject> editConfig, Action<Dictionary<string, (long[] Shape, float[] Values)>>? editTensors = null)
    {
        string source = Fixtures.Directory(fixture);
        string directory = Path.Combine(root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);

        var json = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!;
        editConfig(json);
        File.WriteAllText(Path.Combine(directory, "config.json"), json.ToJsonString());

        if (editTensors is null)
        {
            File.Copy(Path.Combine(source, "model.safetensors"), Path.Combine(directory, "model.safetensors"));
            return directory;
        }
        var tensors = new Dictionary<string, (long[] Shape, float[] Values)>();
        using (var file = SafetensorsFile.Open(Path.Combine(source, "model.safetensors")))
            foreach (var (name, entry) in file.Entries) tensors[name] = (entry.Shape, file.ReadFloats(name));
        editTensors(tensors);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"),
            tensors.Select(t => new SafetensorsWriter.Tensor(t.Key, t.Value.Shape, Floats: t.Value.Values)).ToList());
        return directory;
    }

    /// <summary>Stacks the rows of <paramref name="parts"/> (all [rows, in]) into one tensor, removing the parts.</summary>
    public static void Fuse(Dictionary<string, (long[] Shape, float[] Values)> tensors, string fused, params string[] parts)
    {
        long columns = tensors[parts[0]].Shape[1];
        tensors[fused] = ([parts.Sum(p => tensors[p].Shape[0]), columns], parts.SelectMany(p => tensors[p].Values).ToArray());
        foreach (string part in parts) tensors.Remove(part);
    }
}
