using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Experts;

/// <summary>
/// How a mixture-of-experts model's routers spread the tokens: per layer and expert, how many times a token was routed
/// there (a token counts once for each of its k chosen experts), since the engine loaded or was last reset.
/// </summary>
public sealed class ExpertLoad
{
    private readonly long[] _counts; // [layer * Experts + expert]

    public ExpertLoad(int layers, int experts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        Layers = layers;
        Experts = experts;
        _counts = new long[(long)layers * experts];
    }

    public int Layers { get; }

    public int Experts { get; }

    /// <summary>Tokens routed to <paramref name="expert"/> in <paramref name="layer"/>.</summary>
    public long this[int layer, int expert] => _counts[Index(layer, expert)];

    /// <summary>Counts one routing decision (a rank's router calls this for each chosen expert of each token).</summary>
    public void Add(int layer, int expert, long tokens = 1) => _counts[Index(layer, expert)] += tokens;

    /// <summary>Adds another rank's counts (ranks of different stages or expert ranks route different tokens).</summary>
    public void Add(ExpertLoad other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Layers != Layers || other.Experts != Experts)
            throw new ArgumentException($"Cannot add a load of {other.Layers} x {other.Experts} to one of {Layers} x {Experts}.", nameof(other));
        for (int i = 0; i < _counts.Length; i++) _counts[i] += other._counts[i];
    }

    public void Reset() => Array.Clear(_counts);

    /// <summary>Tokens per expert in one layer.</summary>
    public long[] OfLayer(int layer) => Enumerable.Range(0, Experts).Select(e => this[layer, e]).ToArray();

    /// <summary>Tokens per expert over all layers.</summary>
    public long[] Total => Enumerable.Range(0, Experts).Select(e => Enumerable.Range(0, Layers).Sum(l => this[l, e])).ToArray();

    /// <summary>Tokens per expert rank (each holding <c>Experts / expertDegree</c> contiguous experts).</summary>
    public static long[] PerRank(long[] perExpert, int expertDegree)
    {
        if (expertDegree < 1 || perExpert.Length % expertDegree != 0)
            throw new ArgumentException($"{expertDegree} expert ranks cannot split {perExpert.Length} experts evenly.", nameof(expertDegree));
        int each = perExpert.Length / expertDegree;
        return Enumerable.Range(0, expertDegree).Select(r => perExpert.Skip(r * each).Take(each).Sum()).ToArray();
    }

    /// <summary>max / mean of the counts: 1 when perfectly even; 0 when nothing was routed.</summary>
    public static double Imbalance(IReadOnlyCollection<long> counts)
    {
        double mean = counts.Count == 0 ? 0 : counts.Average();
        return mean == 0 ? 0 : counts.Max() / mean;
    }

    /// <summary>A table: one row per layer, then the total: tokens per expert, per expert rank, and both imbalances.</summary>
    public string ToText(int expertDegree)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"expert load: tokens routed to each expert (a token counts once per chosen expert), {Experts} experts on {expertDegree} expert rank(s)");
        void Row(string label, long[] perExpert)
        {
            var perRank = PerRank(perExpert, expertDegree);
            sb.AppendLine(inv, $"  {label,-8} experts [{string.Join(", ", perExpert)}]  ranks [{string.Join(", ", perRank)}]  " +
                               $"imbalance (max/mean) experts {Imbalance(perExpert).ToString("0.00", inv)}, ranks {Imbalance(perRank).ToString("0.00", inv)}");
        }
        for (int layer = 0; layer < Layers; layer++) Row($"layer {layer}", OfLayer(layer));
        Row("total", Total);
        return sb.ToString();
    }

    /// <summary>The same as data: {"experts", "expert_ranks", "layers": [{"layer", "tokens_per_expert", "tokens_per_rank", "imbalance", "rank_imbalance"}], "total": {...}}.</summary>
    public JsonObject ToJson(int expertDegree)
    {
        JsonObject Entry(long[] perExpert)
        {
            var perRank = PerRank(perExpert, expertDegree);
            return new JsonObject
            {
                ["tokens_per_expert"] = new JsonArray(perExpert.Select(c => (JsonNode)c).ToArray()),
                ["tokens_per_rank"] = new JsonArray(perRank.Select(c => (JsonNode)c).ToArray()),
                ["imbalance"] = Imbalance(perExpert),
                ["rank_imbalance"] = Imbalance(perRank),
            };
        }
        var layers = new JsonArray();
        for (int layer = 0; layer < Layers; layer++)
        {
            var entry = Entry(OfLayer(layer));
            entry.Insert(0, "layer", layer);
            layers.Add(entry);
        }
        return new JsonObject
        {
            ["experts"] = Experts,
            ["expert_ranks"] = expertDegree,
            ["layers"] = layers,
            ["total"] = Entry(Total),
        };
    }

    private int Index(int layer, int expert)
    {
        if ((uint)layer >= (uint)Layers || (uint)expert >= (uint)Experts)
            throw new ArgumentOutOfRangeException(nameof(layer), $"({layer}, {expert}) is outside {Layers} layers x {Experts} experts.");
        return layer * Experts + expert;
    }
}
