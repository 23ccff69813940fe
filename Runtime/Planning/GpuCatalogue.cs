using System.Text.Json;

namespace Tessera.Planning;

/// <summary>
/// The GPUs the advisor knows (<c>Runtime/Planning/gpus.json</c>: memory, dense BF16/FP16 and FP32 throughput, memory
/// bandwidth, links, each with its source and date), looked up by name or alias, case-insensitive.
/// </summary>
public static class GpuCatalogue
{
    private static readonly Lazy<(DeviceSpec[] Gpus, Dictionary<string, LinkSpec> Links, string AsOf)> Loaded = new(Load);

    /// <summary>The date the catalogue's figures were gathered.</summary>
    public static string AsOf => Loaded.Value.AsOf;

    public static IReadOnlyList<DeviceSpec> Gpus => Loaded.Value.Gpus;

    /// <summary>The links by name ("NVLink 4", "InfiniBand NDR", "PCIe Gen4 x16").</summary>
    public static IReadOnlyDictionary<string, LinkSpec> Links => Loaded.Value.Links;

    /// <summary>The GPU called <paramref name="name"/> (or one of its aliases), else an error listing the names.</summary>
    public static DeviceSpec Find(string name)
    {
        foreach (var (gpu, aliases) in Aliases.Value)
            if (string.Equals(gpu.Name, name, StringComparison.OrdinalIgnoreCase) || aliases.Any(a => string.Equals(a, name, StringComparison.OrdinalIgnoreCase)))
                return gpu;
        throw new ArgumentException($"--gpu {name}: not in the catalogue (known: {string.Join(", ", Gpus.Select(g => g.Name))}).");
    }

    private static readonly Lazy<List<(DeviceSpec Gpu, string[] Aliases)>> Aliases = new(() =>
    {
        using var json = OpenCatalogue();
        var gpus = json.RootElement.GetProperty("gpus").EnumerateArray().ToList();
        return Gpus.Select((g, i) => (g, gpus[i].TryGetProperty("aliases", out var a) ? a.EnumerateArray().Select(x => x.GetString() ?? "").ToArray() : [])).ToList();
    });

    private static JsonDocument OpenCatalogue()
    {
        using var stream = typeof(GpuCatalogue).Assembly.GetManifestResourceStream("Tessera.Planning.gpus.json")
            ?? throw new InvalidOperationException("The GPU catalogue (Tessera.Planning.gpus.json) is not embedded in the runtime.");
        return JsonDocument.Parse(stream);
    }

    private static (DeviceSpec[], Dictionary<string, LinkSpec>, string) Load()
    {
        using var json = OpenCatalogue();
        var root = json.RootElement;
        var links = new Dictionary<string, LinkSpec>(StringComparer.OrdinalIgnoreCase);
        foreach (var link in root.GetProperty("links").EnumerateArray())
        {
            string name = link.GetProperty("name").GetString()!;
            links[name] = new LinkSpec(name, link.GetProperty("bandwidth_bytes_per_s_per_gpu").GetDouble(), link.GetProperty("latency_seconds").GetDouble());
        }
        // Between nodes, one 400 Gb/s NIC per GPU (InfiniBand NDR), as HGX/DGX nodes are built; PCIe-only cards use RoCE.
        LinkSpec Link(string name) => links.TryGetValue(name, out var l) ? l
            : links.Values.FirstOrDefault(v => v.Name.StartsWith(name, StringComparison.OrdinalIgnoreCase)) ?? throw new InvalidOperationException($"The GPU catalogue has no link \"{name}\".");
        var gpus = root.GetProperty("gpus").EnumerateArray().Select(g =>
        {
            string intra = g.GetProperty("intra_node_link").GetString()!;
            var intraLink = Link(intra);
            var inter = intraLink.Name.StartsWith("PCIe", StringComparison.OrdinalIgnoreCase) ? Link("RoCE 100 GbE") : Link("InfiniBand NDR");
            // A GPU without BF16 tensor cores (V100) runs half precision as FP16: its FP16 rate stands for both.
            var bf16 = g.GetProperty("bf16_dense_tflops");
            double halfTflops = bf16.ValueKind == JsonValueKind.Number ? bf16.GetDouble() : g.GetProperty("fp16_dense_tflops").GetDouble();
            return new DeviceSpec(g.GetProperty("name").GetString()!, g.GetProperty("memory_bytes").GetInt64(),
                g.GetProperty("memory_bandwidth_bytes_per_s").GetDouble(), halfTflops * 1e12,
                g.GetProperty("fp32_tflops").GetDouble() * 1e12, intraLink, inter, g.GetProperty("source").GetString() ?? "");
        }).ToArray();
        return (gpus, links, root.GetProperty("as_of").GetString() ?? "");
    }
}
